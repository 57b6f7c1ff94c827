"""Virtual ``datetime.datetime.now()`` and ``utcnow()``: the wall clock a run reads is its virtual ``time.time()``.

``date.today()`` and ``datetime.today()`` call ``time.time()``, which the run makes virtual;
``now()`` and ``utcnow()`` read the system clock in C. A program that slept in virtual time and
then compared ``datetime.now()`` (a circuit breaker's reset timeout, a scheduler's next run, a
cache's expiry) saw no time pass, and a correct program failed. The type is immutable from
Python, and ``from datetime import datetime`` holds the type itself: the run replaces these two
entries of the type (``Patcher.set_type_entry``), and outside an execution they are the real ones.
"""

from __future__ import annotations

import datetime as _dt
import types
import warnings
from typing import Any, Iterable, List, Optional

from ..versions import CURRENT
from .running import running
from .vtime import time as _virtual_time

try:  # the C type itself: ``datetime.datetime`` may be a stand-in already (freezegun's, when it imports us)
    from _datetime import datetime as _REAL  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - a build without the accelerator
    _REAL = _dt.datetime
REAL_DATETIME: type = _REAL

_real_now = _REAL.__dict__["now"]
_real_fromtimestamp = _REAL.__dict__["fromtimestamp"]
_UTCNOW_DEPRECATED = ("datetime.datetime.utcnow() is deprecated and scheduled for removal in a future version. "
                      "Use timezone-aware objects to represent datetimes in UTC: datetime.datetime.now(datetime.UTC).")


def now(cls: Any, tz: Optional[_dt.tzinfo] = None) -> Any:
    """Virtual ``datetime.now(tz)``."""
    if running() is None:
        return _real_now.__get__(None, cls)(tz)
    # datetime's own fromtimestamp, as the real now() is: a subclass that overrides it is not asked.
    return _real_fromtimestamp.__get__(None, cls)(_virtual_time(), tz)


def utcnow(cls: Any) -> Any:
    """Virtual ``datetime.utcnow()``."""
    if CURRENT.utcnow_deprecated:  # at the caller, as the C method warns (called from here, it would point here)
        warnings.warn(_UTCNOW_DEPRECATED, DeprecationWarning, stacklevel=2)
    if running() is None:  # the real clock, as utcnow() reads it, without its warning a second time
        return _real_now.__get__(None, cls)(_dt.timezone.utc).replace(tzinfo=None)
    return _real_fromtimestamp.__get__(None, cls)(_virtual_time(), _dt.timezone.utc).replace(tzinfo=None)


_TWINS = {"now": now, "utcnow": utcnow}
#: (type, entry, replacement) for the run.
ENTRIES = ((_REAL, "now", classmethod(now)), (_REAL, "utcnow", classmethod(utcnow)))


def captured_clocks(objects: Iterable[Any]) -> List[Any]:
    """The real ``datetime.now``/``utcnow`` bound methods among ``objects`` (``field(default_factory=datetime.now)``).

    Taken before the run, such a method calls the C function itself: replacing the type's entries
    does not reach it, and it would read the real clock while ``datetime.now()`` reads the virtual one.
    """
    return [o for o in objects if type(o) is types.BuiltinMethodType and getattr(o, "__self__", None) is _REAL
            and o.__name__ in _TWINS]


def bound_twin(method: Any) -> Any:
    """The virtual twin of a real bound ``now``/``utcnow``: the same call, on the run's clock."""
    return types.MethodType(_TWINS[method.__name__], method.__self__)
