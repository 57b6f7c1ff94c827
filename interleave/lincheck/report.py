"""The lincheck report: the scenario table, the verdict sentence, then interleave's own report."""

from __future__ import annotations

import dataclasses
import enum
import types
from typing import Any, Dict, List, Optional, Sequence

from ..result import Failure
from .history import CallRecord, Raised
from .operation import Operation
from .result import SENTENCE, NotLinearizable
from .scenario import Scenario
from .table import render_scenario


def _retoken(report: str, token: str, reproduce: str) -> str:
    """interleave's report with its token and Reproduce lines naming the lincheck token and call."""
    lines = report.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("Replay token: "):
            lines[i] = f"Replay token: {token}"
        elif line.startswith("Reproduce:    "):
            lines[i] = f"Reproduce:    {reproduce}"
    return "\n".join(lines)


def _quiet_check(report: str) -> str:
    """The paragraph of interleave's report that shows the check's own traceback, as one line.

    The traceback runs through interleave's runtime and this package: nothing a reader acts on.
    """
    lines = report.split("\n")
    try:
        start = lines.index("Exception in the test body:")
    except ValueError:
        return report
    for end in range(start + 1, len(lines)):
        if lines[end].startswith(f"{NotLinearizable.__module__}.NotLinearizable"):
            lines[start:end + 1] = ["The check after the threads ended raised NotLinearizable: " + SENTENCE + "."]
            return "\n".join(lines)
        if not lines[end].startswith("  "):
            break
    return report


# Results of these kinds compare by identity and still match: the spec gives the same object.
_SHARED = (type(None), type(NotImplemented), type(Ellipsis), type, types.FunctionType, types.BuiltinFunctionType,
           types.ModuleType, enum.Enum)


def identity_note(operations: Sequence[Operation], history: Sequence[CallRecord]) -> List[str]:
    """A note when a result compares by identity: a fresh object equals no result the spec can give."""
    seen: Dict[str, str] = {}
    for rec in history:
        value = rec.result
        if rec.end < 0 or isinstance(value, Raised) or isinstance(value, _SHARED):
            continue
        if type(value).__eq__ is object.__eq__:
            name = "post" if rec.op is None else operations[rec.op].name
            seen.setdefault(type(value).__qualname__, name)
    return [f"Note: results are compared with ==, and {kind} (the result of {name}) has no __eq__: it equals only "
            "the very same object, which the spec's own calls cannot return. Return a value that compares by "
            f"content (a tuple, a dataclass), or give {kind} an __eq__." for kind, name in seen.items()]


def convert(failure: Failure, *, operations: Sequence[Operation], scenario: Scenario,
            history: Optional[List[CallRecord]], post: Any, subject: str, token: str, reproduce: str,
            found: str) -> Failure:
    """The explore failure of one scenario, as lincheck reports it (kind, token, report)."""
    exc = failure.exception
    if isinstance(exc, NotLinearizable):
        kind = "not-linearizable"
        history = exc.history
        what = "not linearizable"
        verdict = [SENTENCE[0].upper() + SENTENCE[1:] + "."] + identity_note(operations, history)
        failure = dataclasses.replace(failure, report=_quiet_check(failure.report))
    else:
        kind = failure.kind
        what = {"deadlock": "deadlock", "step-limit": "step limit"}.get(kind, kind)
        verdict = [f"The run did not finish normally ({what}): see the interleaving below."]
    table = render_scenario(operations, scenario, history, post)
    head = [f"lincheck: {what}: {subject} ({scenario.shape})", f"  {found}", "",
            "Scenario (one column per thread; each call with its arguments and its result):", table, "",
            *verdict, "", "The interleaving that produced them:", ""]
    report = "\n".join(head) + _retoken(failure.report, token, reproduce)
    return dataclasses.replace(failure, kind=kind, token=token, report=report)
