"""The object under test, and the body that runs one scenario of it and checks the history."""

from __future__ import annotations

from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence

from ..runtime import context
from .alone import run_alone
from .history import CallRecord, Raised, run_scenario
from .operation import Operation
from .result import NotLinearizable
from .scenario import Scenario
from .search import Model, linearizable


def _result_key(value: Any) -> Optional[Hashable]:
    if isinstance(value, Raised):
        return ("raised", type(value.exc))
    try:
        hash(value)
    except Exception:  # noqa: BLE001 - unhashable: this history is checked without the cache
        return None
    return ("value", type(value), value)


class Subject:
    """The object under test and how to run scenarios of it: one per ``check`` or ``replay``."""

    def __init__(self, factory: Callable[[], Any], operations: Sequence[Operation], spec: Any,
                 post: Optional[Callable[[Any], Any]]) -> None:
        self.factory = factory
        self.operations = operations
        self.post = post
        self.model = Model(spec if spec is not None else factory, operations, spec is not None, post)
        self.last_history: List[CallRecord] = []

    def body(self, scenario: Scenario) -> Callable[[], None]:
        """The body ``explore`` runs for one scenario; it raises ``NotLinearizable`` when the check fails."""
        verdicts: Dict[Hashable, bool] = {}  # many interleavings give the same history

        def lincheck_scenario() -> None:
            history: List[CallRecord] = []
            self.last_history = history
            run_scenario(self.factory, self.operations, scenario, self.post, history)
            parts = tuple((r.start, r.end, _result_key(r.result)) for r in history)
            key = None if any(p[2] is None for p in parts) else parts
            ok = verdicts.get(key) if key is not None else None
            if ok is None:
                # The spec runs as if outside the run: no switch points, no steps, real locks.
                active, context.active = context.active, None
                try:
                    ok = run_alone(lambda: linearizable(history, self.model), self.model.watch)
                finally:
                    context.active = active
                if key is not None:
                    verdicts[key] = ok
            if not ok:
                raise NotLinearizable(history)

        return lincheck_scenario


