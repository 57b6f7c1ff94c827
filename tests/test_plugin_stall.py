"""The plugin's stall timeout and what an inconclusive run looks like in pytest."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

STUCK = '''
import threading
import pytest
import spin_elsewhere

@pytest.mark.interleave(executions=5, exclude=["spin_elsewhere"])
def test_stuck_in_code_that_is_not_traced():
    t = threading.Thread(target=spin_elsewhere.spin)
    t.start()
    t.join()
'''

SPIN = '''
def spin():
    while True:
        pass
'''


@pytest.mark.parametrize("where", ["option", "ini", "marker"])
def test_stall_timeout_stops_a_stuck_test_as_inconclusive(pytester: pytest.Pytester, where: str) -> None:
    pytester.makepyfile(spin_elsewhere=SPIN)
    body = STUCK
    args = ["-p", "interleave_pytest", "-p", "no:cacheprovider"]
    if where == "option":
        args.append("--interleave-stall-timeout=0.5")
    elif where == "ini":
        pytester.makeini("[pytest]\ninterleave_stall_timeout = 0.5\n")
    else:
        body = STUCK.replace('exclude=["spin_elsewhere"]', 'exclude=["spin_elsewhere"], stall_timeout=0.5')
    pytester.makepyfile(test_stuck=body)
    result = pytester.runpytest_subprocess(*args, timeout=120)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*StalledRunError*inconclusive*without reaching a switch point*"])


def test_a_bad_stall_timeout_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "interleave_pytest", "--interleave-stall-timeout=soon", timeout=120)
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--interleave-stall-timeout*must be a positive number of seconds*"])
