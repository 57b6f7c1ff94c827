"""Gives every execution pytest's recording fixtures (caplog, capsys, capfd, binary forms) as found.

These fixtures are made once per test, like any other, but they only ever grow: without a reset
``len(caplog.records)`` in execution 40 counts the records of the 39 before it, the test fails
for a reason no interleaving explains, and the printed replay command (one execution) passes.
Each execution therefore starts with what they held when the exploration began; after the
exploration they hold what the last execution (the one that explains a failure) left.
"""

from __future__ import annotations

import io
import sys
from typing import Any, Callable, Dict, List


def _caplog_reset(caplog: Any) -> Callable[[], None]:
    handler = caplog.handler
    records = len(handler.records)
    text = handler.stream.getvalue() if isinstance(handler.stream, io.StringIO) else None

    def reset() -> None:
        current = caplog.handler
        if current is not handler:  # another phase's handler: nothing of ours in it
            return
        del handler.records[records:]
        if text is not None:
            stream = io.StringIO()
            stream.write(text)
            handler.stream = stream

    return reset


def _capture_reset(capture: Any) -> Callable[[], None]:
    # What the test printed before the exploration is read out once and written back at each
    # execution's start, so that a later readouterr() in the test still sees it.
    before = capture.readouterr()

    def reset() -> None:
        capture.readouterr()
        for text, stream in ((before.out, sys.stdout), (before.err, sys.stderr)):
            if text:  # capsysbinary/capfdbinary read bytes: they go back through the binary buffer
                (stream.buffer if isinstance(text, bytes) else stream).write(text)
                stream.flush()

    return reset


def _resetters(fixtures: Dict[str, Any]) -> List[Callable[[], None]]:
    out: List[Callable[[], None]] = []
    for name, value in fixtures.items():
        kind = type(value).__name__
        try:
            if name == "caplog" and kind == "LogCaptureFixture":
                out.append(_caplog_reset(value))
            elif name in ("capsys", "capfd", "capsysbinary", "capfdbinary") and kind == "CaptureFixture":
                out.append(_capture_reset(value))
        except (AttributeError, TypeError, ValueError):  # a pytest whose internals differ: no reset, no harm
            continue
    return out


def fresh_body(body: Callable[[], Any], fixtures: Dict[str, Any]) -> Callable[[], Any]:
    """``body``, preceded in every execution by the reset of the recording fixtures among ``fixtures``."""
    resets = _resetters(fixtures)
    if not resets:
        return body

    def fresh() -> Any:
        for reset in resets:
            reset()
        return body()

    fresh.__wrapped__ = body  # type: ignore[attr-defined]
    return fresh
