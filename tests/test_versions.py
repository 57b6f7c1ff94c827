"""The version table: the running interpreter has a row, and an unsupported one is refused clearly."""

from __future__ import annotations

import sys

import pytest

import interleave
from interleave import versions
from interleave.runtime import tstate


def body() -> None:
    pass


def test_this_interpreter_has_a_row_matching_what_it_offers() -> None:
    """The row's facts agree with the interpreter: sys.monitoring exists exactly where the row says."""
    assert versions.IS_SUPPORTED and versions.CURRENT is versions.SUPPORTED[sys.version_info[:2]]
    assert versions.CURRENT.monitoring == hasattr(sys, "monitoring")
    import threading

    assert versions.CURRENT.thread_handles == hasattr(threading, "_ThreadHandle")
    assert versions.supported_range() == "3.10 to 3.13"
    assert versions.python() == f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.mark.parametrize("unsupported, build", [
    ({"IS_SUPPORTED": False}, "64-bit"),
    ({"FREE_THREADED": True}, "free-threaded"),
])
def test_an_unsupported_interpreter_is_refused_at_explore(monkeypatch: pytest.MonkeyPatch, unsupported: dict,
                                                          build: str) -> None:
    """explore names the supported range and the build, and leaves nothing patched."""
    import threading
    import time

    before = (threading.Lock, time.sleep, sys.gettrace())
    for name, value in unsupported.items():
        monkeypatch.setattr(tstate, name, value)
    with pytest.raises(interleave.UnsupportedInterpreterError,
                       match=rf"supports 64-bit CPython 3\.10 to 3\.13 with the GIL; this is .*\({build}\)"):
        interleave.explore(body, executions=1)
    assert (threading.Lock, time.sleep, sys.gettrace()) == before
