"""A live status line for long searches, on a terminal only (CI logs stay clean).

``--interleave-time-budget`` or a large execution budget can keep one test busy for minutes; the
line says how far it got: executions, executions per second, the strategy and the time left.
It is drawn over the test's line with a carriage return and erased when the search ends, the
way pytest draws its "collecting ..." line. Nothing is drawn for a search that ends within
:data:`FIRST_UPDATE` seconds, when the output is not a terminal, under ``-q -q`` or on
pytest-xdist workers.

The count comes from :func:`interleave.explore`'s ``progress`` callback when the library has one
(called between executions with the number done so far); otherwise from a wrapper around the
body that counts its calls (each execution calls it once; shrinking's replays count too).
"""

from __future__ import annotations

import contextlib
import inspect
import time
from typing import Any, Callable, Dict, Iterator, Mapping, Optional

import pytest

#: Seconds before the first update: short searches draw nothing.
FIRST_UPDATE = 1.0
#: Seconds between updates.
INTERVAL = 0.5
#: Execution budgets from this size on get a live line even without a time budget.
LARGE_BUDGET = 10_000
# Bound when this module is imported, before any run: inside a run interleave makes time virtual.
_clock = time.perf_counter


def library_has_progress_hook() -> bool:
    """Whether ``interleave.explore`` takes a ``progress`` callback."""
    import interleave

    try:
        return "progress" in inspect.signature(interleave.explore).parameters
    except (TypeError, ValueError):
        return False


class LiveLine:
    """Counts executions and redraws the status line at most every :data:`INTERVAL` seconds."""

    def __init__(self, terminal: Any, capture: Any, label: str, strategy: str,
                 executions: Optional[int], time_budget: Optional[float]) -> None:
        self.tw = terminal._tw
        self.capture = capture
        self.label = label
        self.strategy = strategy
        self.executions = executions
        self.time_budget = time_budget
        self.start = _clock()
        self.next_update = self.start + FIRST_UPDATE
        self.count = 0
        self.drawn = 0  # width of what is on screen, 0: nothing drawn
        self.saved: Optional[str] = None

    def wrap(self, body: Callable[[], Any]) -> Callable[[], Any]:
        """``body``, counting its calls (when the library has no progress hook)."""

        def counted() -> Any:
            self.tick(self.count + 1)
            return body()

        counted.__wrapped__ = body  # type: ignore[attr-defined]
        return counted

    def tick(self, done: int) -> None:
        """``done`` executions so far; redraw if it is time."""
        self.count = done
        now = _clock()
        if now >= self.next_update:
            self.next_update = now + INTERVAL
            self.draw(now)

    def text(self, now: float) -> str:
        """The status line."""
        elapsed = now - self.start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.count:,} executions"]
        if self.executions is not None and self.time_budget is None:
            parts[0] += f" of {self.executions:,}"
        parts += [f"{rate:,.0f}/s", self.strategy]
        if self.time_budget is not None:
            parts.append(f"{max(0.0, self.time_budget - elapsed):.0f} s left")
        return f"interleave {self.label}: {', '.join(parts)}"

    def _write(self, text: str) -> None:
        cm = self.capture.global_and_fixture_disabled() if self.capture is not None else contextlib.nullcontext()
        with cm:
            self.tw.write(text, flush=True)

    def draw(self, now: float) -> None:
        """Draw the line over the current terminal line (what pytest wrote there is put back at the end)."""
        if self.saved is None:
            self.saved = getattr(self.tw, "_current_line", "")
        width = max(20, int(getattr(self.tw, "fullwidth", 80)) - 1)
        line = self.text(now)[:width]
        pad = max(self.drawn, len(self.saved or "")) - len(line)
        self._write("\r" + line + " " * max(0, pad))
        self.drawn = len(line) + max(0, pad)

    def erase(self) -> None:
        """Put the terminal line back as pytest left it."""
        if not self.drawn:
            return
        saved = self.saved or ""
        self._write("\r" + " " * self.drawn + "\r" + saved)
        if hasattr(self.tw, "_current_line"):
            self.tw._current_line = saved  # pytest's idea of the line must match the screen again
        self.drawn = 0


class _Shown:
    """What :func:`shown` yields: the body wrapper and the extra ``explore`` arguments."""

    def __init__(self, line: Optional[LiveLine]) -> None:
        self.line = line
        self.kwargs: Dict[str, Any] = {}
        if line is not None and library_has_progress_hook():
            self.kwargs["progress"] = line.tick

    def wrap(self, body: Callable[[], Any]) -> Callable[[], Any]:
        """The body to explore."""
        if self.line is None or self.kwargs:
            return body
        return self.line.wrap(body)


def wanted(config: pytest.Config, opts: Mapping[str, Any]) -> bool:
    """A live line for this search: on a terminal, for a time budget or a large execution budget."""
    if hasattr(config, "workerinput") or config.get_verbosity() < -1:
        return False
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is None or not bool(getattr(terminal, "isatty", False)) or not hasattr(terminal, "_tw"):
        return False
    return opts.get("time_budget") is not None or int(opts.get("executions") or 0) >= LARGE_BUDGET


@contextlib.contextmanager
def shown(config: pytest.Config, item: pytest.Item, opts: Mapping[str, Any]) -> Iterator[_Shown]:
    """A live line for the search of ``item`` with ``opts`` while the block runs, if :func:`wanted`."""
    line = None
    if wanted(config, opts):
        from .options import UNLIMITED, default_strategy

        terminal = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        executions = opts.get("executions")
        strategy = opts.get("strategy") or default_strategy()
        line = LiveLine(terminal, capture, item.name, str(getattr(strategy, "name", strategy)),
                        None if executions in (None, UNLIMITED) else int(executions), opts.get("time_budget"))
    try:
        yield _Shown(line)
    finally:
        if line is not None:
            line.erase()
