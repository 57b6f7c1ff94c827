"""The choice of tracing back-end: ``sys.monitoring`` on 3.12+, ``sys.settrace`` below."""

from __future__ import annotations

from typing import Any, Optional

from ..errors import OptionError
from ..versions import CURRENT, python
from .backend import BACKENDS, Backend
from .filter import CodeFilter
from .monitoring import MonitoringBackend
from .settrace import SettraceBackend


def make_backend(name: Optional[str], code_filter: CodeFilter, model: str, context: Any) -> Backend:
    """The back-end asked for: ``sys.monitoring`` on 3.12+, ``sys.settrace`` below."""
    if name in (None, "auto"):
        name = "monitoring" if CURRENT.monitoring else "settrace"
    if name == "monitoring":
        if not CURRENT.monitoring:
            raise OptionError(
                f"backend='monitoring' needs Python 3.12+ (this is {python()}); "
                "use backend='settrace' or 'auto'"
            )
        return MonitoringBackend(code_filter, model, context)
    if name == "settrace":
        return SettraceBackend(code_filter, model, context)
    raise OptionError(f"backend must be one of {', '.join(BACKENDS)}; got {name!r}")
