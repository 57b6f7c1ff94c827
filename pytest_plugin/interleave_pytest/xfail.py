"""``@pytest.mark.xfail(raises=...)`` on a marked test: judged by the exception the search found.

A marked test fails with the interleave report (a ``pytest.fail`` outcome, so that the report is
shown without a traceback of the plugin), which is no instance of the exception the test raised
in the failing interleaving. pytest's own xfail logic would then call ``xfail(raises=AssertionError)``
a failure. :class:`XfailJudge` shows pytest that exception instead, so that pytest decides as it
would for a plain test: XFAIL when it matches ``raises``, FAILED (with the report) when it does not.
"""

from __future__ import annotations

from typing import Any, Generator, Tuple

import pytest

#: (the outcome exception the test failed with, the exception the failing interleaving raised)
FOUND_KEY = pytest.StashKey[Tuple[BaseException, BaseException]]()


class XfailJudge:
    """Gives pytest's xfail check the exception the search found, for marked tests with an xfail marker."""

    @pytest.hookimpl(hookwrapper=True, trylast=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, None]:
        """Inside pytest's own xfail wrapper: swap the excinfo it judges, after the report text is made."""
        yield
        found = item.stash.get(FOUND_KEY, None)
        if found is None or call.when != "call" or call.excinfo is None or item.get_closest_marker("xfail") is None:
            return
        failed, exc = found
        if call.excinfo.value is not failed:
            return
        if exc.__traceback__ is None:
            exc = exc.with_traceback(call.excinfo.tb)  # ExceptionInfo needs one; the found one carries none
        call.excinfo = pytest.ExceptionInfo.from_exception(exc)
