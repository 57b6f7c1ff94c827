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
import warnings
from typing import Any, Optional

from ..versions import CURRENT
from .running import running
from .vtime import time as _virtual_time

_real_now = _dt.datetime.__dict__["now"]
_real_utcnow = _dt.datetime.__dict__["utcnow"]
_UTCNOW_DEPRECATED = ("datetime.datetime.utcnow() is deprecated and scheduled for removal in a future version. "
                      "Use timezone-aware objects to represent datetimes in UTC: datetime.datetime.now(datetime.UTC).")


def now(cls: Any, tz: Optional[_dt.tzinfo] = None) -> Any:
    """Virtual ``datetime.now(tz)``."""
    if running() is None:
        return _real_now.__get__(None, cls)(tz)
    return cls.fromtimestamp(_virtual_time(), tz)


def utcnow(cls: Any) -> Any:
    """Virtual ``datetime.utcnow()``."""
    if running() is None:
        return _real_utcnow.__get__(None, cls)()
    if CURRENT.utcnow_deprecated:
        warnings.warn(_UTCNOW_DEPRECATED, DeprecationWarning, stacklevel=2)
    return cls.fromtimestamp(_virtual_time(), _dt.timezone.utc).replace(tzinfo=None)


#: (type, entry, replacement) for the run.
ENTRIES = ((_dt.datetime, "now", classmethod(now)), (_dt.datetime, "utcnow", classmethod(utcnow)))
