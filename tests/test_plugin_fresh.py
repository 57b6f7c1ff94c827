"""pytest's recording fixtures start every execution as the exploration found them; shared files are named."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

RECORDING = '''
import logging, sys, threading, warnings
import pytest

log = logging.getLogger("svc")


def both(target):
    ts = [threading.Thread(target=target, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


@pytest.mark.interleave(executions=50)
def test_caplog(caplog):
    both(lambda i: log.warning("job %d done", i))
    assert len(caplog.records) == 2
    assert caplog.text.count("done") == 2


def test_capsys_through_the_fixture(interleave, capsys):
    print("before")

    def body():
        both(lambda i: print(i))
        assert sorted(capsys.readouterr().out.split()) == ["0", "1", "before"]

    interleave.explore(body, executions=30).raise_for_failure()
    assert capsys.readouterr().out == ""


def test_caplog_through_the_fixture(interleave, caplog):
    log.warning("before")

    def body():
        both(lambda i: log.warning("job %d", i))
        assert [r.getMessage() for r in caplog.records][0] == "before"
        assert len(caplog.records) == 3

    interleave.explore(body, executions=30).raise_for_failure()
    assert len(caplog.records) == 3


def test_capsysbinary_through_the_fixture(interleave, capsysbinary):
    sys.stdout.buffer.write(b"before ")
    sys.stdout.flush()

    def body():
        both(lambda i: (sys.stdout.buffer.write(b"%d " % i), sys.stdout.flush()))
        assert sorted(capsysbinary.readouterr().out.split()) == [b"0", b"1", b"before"]

    interleave.explore(body, executions=30).raise_for_failure()
    assert capsysbinary.readouterr().out == b""


@pytest.mark.interleave(executions=30)
def test_capsysbinary_without_reading(capsysbinary):
    # The body reads only on the last of its two paths: output must not pile up from earlier executions.
    out = []
    both(lambda i: (sys.stdout.buffer.write(b"%d " % i), sys.stdout.flush(), out.append(i)))
    if out == [1, 0]:
        assert sorted(capsysbinary.readouterr().out.split()) == [b"0", b"1"]
'''

TMP = '''
import threading
import pytest


@pytest.mark.interleave(executions=50)
def test_appends(tmp_path):
    p = tmp_path / "out.txt"
    lock = threading.Lock()

    def w(i):
        with lock:
            with open(p, "a") as f:
                f.write(f"{i}\\n")

    ts = [threading.Thread(target=w, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(p.read_text().split()) == ["0", "1"]


@pytest.mark.interleave(executions=50)
def test_rewrites(tmp_path):
    p = tmp_path / "out.txt"
    t = threading.Thread(target=p.write_text, args=("x",))
    t.start()
    t.join()
    assert p.read_text() == "x"
'''


def test_caplog_and_capsys_do_not_pile_up_across_executions(pytester: pytest.Pytester) -> None:
    """The counts a single run sees are the counts every execution sees, marker and fixture alike."""
    pytester.makepyfile(test_rec=RECORDING)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


def test_files_left_in_tmp_path_are_named_in_the_report(pytester: pytest.Pytester) -> None:
    """A failure that depends on files earlier executions wrote says so; rewriting a file warns of nothing."""
    pytester.makepyfile(test_tmp=TMP)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", "error::UserWarning")
    result.assert_outcomes(failed=1, passed=1)
    out = result.stdout.str()
    assert "the files in fixture 'tmp_path' changed while" in out
    assert "may come from earlier executions" in out
