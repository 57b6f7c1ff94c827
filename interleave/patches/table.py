"""Which real standard-library callable each cooperative model replaces, and whose modules stay real."""

from __future__ import annotations

import _thread
import queue  # noqa: F401 - loaded for the names declared primitives replace
import sys
import threading
from typing import Any, Dict, List, Optional, Tuple

from .. import sync  # noqa: F401 - every primitive module declares itself on import
from ..instrument.access.primitives import DECLARED
from ..sync import threads as vthreads
from ..sync import vdatetime, vtime
from ..versions import CURRENT


def declared_replacements() -> List[Tuple[str, str, type]]:
    """(module, attribute, primitive class) for every standard-library name a declared primitive replaces."""
    out = []
    for d in DECLARED:
        for dotted in d.replaces:
            module, name = dotted.rsplit(".", 1)
            if module in sys.modules:  # a module nobody imported holds nothing to replace
                out.append((module, name, d.cls))
    return out


def _real_to_virtual() -> Dict[int, Tuple[Any, Any]]:
    """Identity map from a real standard-library callable to its controlled replacement.

    Built once, at import, from the originals: after ``install_runtime_patches`` the modules'
    attributes are the replacements already, and a table read from them then maps nothing.
    """
    pairs: List[Tuple[Any, Any]] = [
        (vtime._real_sleep, vtime.sleep), (vtime._real_monotonic, vtime.monotonic), (vtime._real_time, vtime.time),
        (vtime._real_perf_counter, vtime.perf_counter), (vtime._real_monotonic_ns, vtime.monotonic_ns),
        (vtime._real_time_ns, vtime.time_ns), (vtime._real_perf_counter_ns, vtime.perf_counter_ns),
        (_thread.get_ident, vthreads.get_ident),
        (_thread.start_new_thread, vthreads.start_new_thread),
        (threading._CRLock or threading._PyRLock, threading._PyRLock),  # type: ignore[attr-defined]
    ]
    for name in ("allocate", "start_new"):  # old aliases, where this version still has them
        if hasattr(_thread, name):
            pairs.append((getattr(_thread, name), getattr(_thread, "allocate_lock" if name == "allocate"
                                                            else "start_new_thread")))
    if hasattr(_thread, "get_native_id"):
        pairs.append((_thread.get_native_id, vthreads.get_native_id))
    for module, name, primitive in declared_replacements():
        pairs.append((getattr(sys.modules[module], name), primitive))
    if CURRENT.thread_handles:
        pairs.append((_thread.start_joinable_thread, vthreads.start_joinable_thread))  # type: ignore[attr-defined]
    table: Dict[int, Tuple[Any, Any]] = {}
    for real, virt in pairs:
        # An alias maps to its target's replacement.
        while id(virt) in table:
            virt = table[id(virt)][1]
        if real is not virt:
            table[id(real)] = (real, virt)
    return table


# Keyed by the identity of objects it keeps alive itself: complete, and the same for every run
# (asyncio's functions join it once asyncio is imported: ``add_asyncio``).
_REAL_TO_VIRTUAL = _real_to_virtual()

#: asyncio's running-loop functions: the C accelerator's versions cache the running loop per OS
#: thread, which every virtual thread shares; their pure-Python twins (``_py_<name>``, kept by
#: asyncio itself) keep it per thread. (module, name) pairs; a version lacking one skips it.
ASYNCIO_TWINS = (("asyncio.events", "_get_running_loop"), ("asyncio.events", "_set_running_loop"),
                 ("asyncio.events", "get_running_loop"), ("asyncio.events", "get_event_loop"),
                 ("asyncio.events", "_get_event_loop"), ("asyncio.tasks", "current_task"))
_asyncio_added = False


def asyncio_twins() -> List[Tuple[Any, str, Any, Any]]:
    """(module, name, C function, pure-Python twin) for each of ``ASYNCIO_TWINS`` asyncio has here."""
    out = []
    for module_name, name in ASYNCIO_TWINS:
        module = sys.modules.get(module_name)
        c, py = getattr(module, f"_c_{name}", None), getattr(module, f"_py_{name}", None)
        if module is not None and c is not None and py is not None and c is not py:
            out.append((module, name, c, py))
    return out


def add_asyncio() -> bool:
    """Once asyncio is imported: its C running-loop functions join the table. Whether it grew.

    Not at import (importing asyncio costs a fifth of a second): a module that bound one
    (``from asyncio import get_running_loop``, as anyio does) would otherwise call the C
    function inside a run, and read another virtual thread's loop, or none.
    """
    global _asyncio_added
    if _asyncio_added or "asyncio.tasks" not in sys.modules:
        return False
    _asyncio_added = True
    grew = False
    for _module, _name, c, py in asyncio_twins():
        if id(c) not in _REAL_TO_VIRTUAL:
            _REAL_TO_VIRTUAL[id(c)] = (c, py)
            grew = True
    return grew


def add_captured_clocks(methods: List[Any]) -> bool:
    """Real ``datetime.now``/``utcnow`` bound methods found in the heap join the table. Whether it grew.

    Each attribute access makes a new bound method: only those a program kept (a dataclass's
    ``default_factory``, ``_now = datetime.now``) are found, and kept here, by identity, as the
    other real callables are.
    """
    grew = False
    for m in methods:
        if id(m) not in _REAL_TO_VIRTUAL:
            _REAL_TO_VIRTUAL[id(m)] = (m, vdatetime.bound_twin(m))
            grew = True
    return grew


#: The harness itself and the test runner: their clocks and locks must stay real (timeouts,
#: deadlines, reporting), and interleave patches its own standard-library modules deliberately.
_HARNESS_PACKAGES = frozenset({
    "interleave", "interleave_pytest", "pytest", "_pytest", "pluggy", "hypothesis", "_hypothesis_pytestplugin",
    "_hypothesis_globals", "_hypothesis_ftz_detector", "xdist", "execnet", "pytest_timeout", "greenlet",
    "coverage", "_virtualenv", "threading", "_thread", "time", "queue", "_queue", "_threading_local",
    # pytest's own dependencies: terminal colours, ini parsing, import hooks of editable installs.
    "pygments", "iniconfig", "py", "_distutils_hack", "exceptiongroup", "tomli",
})


def _harness_module(name: Optional[str]) -> bool:
    """A module the run must leave alone (see ``_HARNESS_PACKAGES``); ``concurrent.futures.thread`` too."""
    if not isinstance(name, str):
        return False
    return (name.partition(".")[0] in _HARNESS_PACKAGES or name == "concurrent.futures.thread"
            or name.startswith("__editable__"))



def _virtual_of(value: Any) -> Any:
    pair = _REAL_TO_VIRTUAL.get(id(value))
    return pair[1] if pair is not None and pair[0] is value else value

