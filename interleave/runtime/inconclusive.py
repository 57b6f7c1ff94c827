"""What an inconclusive run was doing: the message of a real block, a foreign primitive or a stall.

The watchdog (:mod:`.watchdog`) notices a run that stopped reaching switch points; this module
says where it stopped, in which call and library, which real primitives the code could see,
and what the user can do about it.
"""

from __future__ import annotations

import os
from types import FrameType
from typing import Any, List, Optional, Tuple

from ..errors import ForeignPrimitiveError, InconclusiveError, RealBlockingError, StalledRunError
from ..instrument.filter import HARNESS_DIR, is_stdlib_file, is_user_code_file


def _kind(value: Any) -> Optional[str]:
    """What a real (non-cooperative) primitive is, and whether it is busy; None for others."""
    import queue
    import threading

    from .foreign import is_real_primitive

    if is_real_primitive(value):
        if hasattr(value, "locked"):
            return f"{type(value).__name__} ({'locked' if value.locked() else 'unlocked'})"
        if "RLock" in type(value).__name__:
            return f"RLock ({'held' if 'count=0' not in repr(value) else 'free'})"
        return f"{type(value).__name__} ({'empty' if value.empty() else 'not empty'})"
    inner = None
    if isinstance(value, threading.Condition):
        inner = value._lock  # type: ignore[attr-defined]
    elif isinstance(value, (threading.Event, threading.Semaphore, threading.Barrier)):
        inner = value._cond._lock  # type: ignore[union-attr]
    elif isinstance(value, queue.Queue):
        inner = value.mutex
    if inner is not None and is_real_primitive(inner):
        return f"{type(value).__name__} built on a real lock"
    return None


def _candidates(frame: Optional[FrameType]) -> List[str]:
    """Real primitives the blocked code can see, by name (the busy ones, if any is)."""
    out: List[Tuple[bool, str]] = []
    seen = set()
    f = frame
    depth = 0
    while f is not None and depth < 6:
        if not f.f_code.co_filename.startswith(HARNESS_DIR):
            depth += 1
            scopes = [(n, v) for n, v in f.f_locals.items()]
            names = set(f.f_code.co_names)
            scopes += [(n, f.f_globals[n]) for n in names if n in f.f_globals]
            owner = f.f_locals.get("self")
            if owner is not None and isinstance(getattr(owner, "__dict__", None), dict):
                scopes += [(f"self.{n}", v) for n, v in owner.__dict__.items()]
            for name, value in _expand(scopes):
                if id(value) in seen:
                    continue
                kind = _kind(value)
                if kind is not None:
                    seen.add(id(value))
                    out.append((kind.endswith(("(locked)", "(held)")),
                                f"{name} = {kind} at {id(value):#x} (in {f.f_code.co_name})"))
        f = f.f_back
    busy = [text for is_busy, text in out if is_busy]
    return busy or [text for _, text in out]


def _expand(scopes: List[Tuple[str, Any]]) -> List[Tuple[str, Any]]:
    """Names and values, plus the items of small tuples, lists and dicts among them."""
    out = list(scopes)
    for name, value in scopes:
        if isinstance(value, (tuple, list)) and len(value) <= 32:
            out += [(f"{name}[{i}]", v) for i, v in enumerate(value)]
        elif isinstance(value, dict) and len(value) <= 32:
            out += [(f"{name}[{k!r}]", v) for k, v in value.items()]
    return out


#: Calls, by opcode name, and how many stack items below the callable their argument count leaves
#: out: a keyword call's names tuple (3.10, 3.13), an unpacking call's tuple and dict.
_CALLS = {"CALL": 0, "CALL_FUNCTION": 0, "CALL_METHOD": 0, "CALL_FUNCTION_KW": 1, "CALL_KW": 1}
_LOADS = ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_CLASSDEREF",
          "LOAD_FAST_AND_CLEAR")
#: What pushes nothing a call counts (the interpreter's NULL markers, 3.11's PRECALL before its CALL).
_NO_ITEM = ("PUSH_NULL", "KW_NAMES", "NOP", "RESUME", "CACHE", "COPY_FREE_VARS", "PRECALL", "MAKE_CELL")


def _called_name(frame: Optional[FrameType]) -> Optional[str]:
    """The name of what the call a frame stopped at calls (``os.read``, ``sock.recv``), if known.

    The statement's loads are replayed as a stack of names (a value that is no name counts as
    one item; the interpreter's NULL markers are left out, in every version alike): the callable
    lies below the call's arguments, so ``got.append(sock.recv(10))`` stopped in ``recv`` names
    ``sock.recv``, and ``os.read(fd, remaining)`` names ``os.read``.
    """
    if frame is None:
        return None
    import dis

    items: List[Optional[List[str]]] = []
    at: Any = None
    for ins in dis.get_instructions(frame.f_code):
        if ins.offset >= frame.f_lasti:
            at = ins
            break
        name = ins.opname
        if name.startswith(("STORE_", "DELETE_", "POP_TOP", "POP_JUMP", "JUMP", "FOR_ITER", "RETURN")):
            # What was loaded so far was used up: by a statement (``box["x"] += 1`` before the
            # call) or a condition (``while remaining > 0:`` around it).
            items = []
            if name == "STORE_FAST_LOAD_FAST":  # 3.13: a store, then a load
                items.append([str(ins.argval[1])])
        elif name in _LOADS:
            items.append([str(ins.argval)])
        elif name == "LOAD_FAST_LOAD_FAST":  # 3.13: two loads in one
            items.extend([str(n)] for n in ins.argval)
        elif name in ("LOAD_ATTR", "LOAD_METHOD"):
            top = items.pop() if items else None
            items.append(top + [str(ins.argval)] if top is not None else None)
        elif name == "LOAD_CONST":
            items.append(None)
        elif name in _CALLS or name == "CALL_FUNCTION_EX":
            arg = ins.arg or 0
            used = arg + 1 + _CALLS[name] if name in _CALLS else 2 + arg % 2
            del items[max(0, len(items) - used):]
            items.append(None)  # the call's result
        elif name not in _NO_ITEM:
            try:
                net = dis.stack_effect(ins.opcode, ins.arg)
            except ValueError:
                net = 0
            if net < 0:
                del items[max(0, len(items) + net):]
            if items:
                items[-1] = None  # what the instruction made of it is no name
            items.extend([None] * max(0, net))
    if at is not None and at.opname in _CALLS:
        k = len(items) - (at.arg or 0) - 1 - _CALLS[at.opname]
        if 0 <= k < len(items) and items[k] is not None:
            return ".".join(items[k])  # type: ignore[arg-type]
    named = [i for i in items if i is not None]
    return ".".join(named[0]) if named else None


def user_frame_site(frame: Optional[FrameType]) -> Optional[Tuple[str, int, str]]:
    """The innermost frame of code under test: (filename, line, function)."""
    f = frame
    while f is not None:
        if is_user_code_file(f.f_code.co_filename):
            return (f.f_code.co_filename, f.f_lineno, f.f_code.co_name)
        f = f.f_back
    return None


def _where(ex: Any, frame: Optional[FrameType]) -> Tuple[str, Optional[FrameType]]:
    """The place the run is stuck, for a person: innermost code under test, else innermost Python."""
    site = user_frame_site(frame)
    inner = frame
    while inner is not None and inner.f_code.co_filename.startswith(HARNESS_DIR):
        inner = inner.f_back
    import linecache

    where = "an unknown place"
    if site is not None:
        src = linecache.getline(site[0], site[1]).strip()
        where = f"{site[0]}:{site[1]} in {site[2]}" + (f"  `{src}`" if src else "")
    if inner is not None and (site is None or inner.f_code.co_filename != site[0]
                              or inner.f_lineno != site[1]):
        inside = f"{inner.f_code.co_filename}:{inner.f_lineno} in {inner.f_code.co_name}"
        where = inside if site is None else f"{where}, inside {inside}"
    thread = getattr(getattr(ex, "current", None), "name", "?")
    return f"virtual thread {thread} at {where}", inner


def library_of(frame: Optional[FrameType]) -> Optional[Tuple[str, str, int]]:
    """The installed library (or standard-library module) the code under test called into: name, file, line.

    The innermost such frame, searched from the blocked frame out to the first frame of code
    under test (beyond it are the thread's own machinery and the harness).
    """
    f = frame
    while f is not None:
        filename = f.f_code.co_filename
        if is_user_code_file(filename):
            return None  # the code under test called the blocking function itself
        if not filename.startswith(HARNESS_DIR):
            parts = filename.replace("\\", "/").split("/")
            for marker in ("site-packages", "dist-packages"):
                if marker in parts:
                    i = len(parts) - 1 - parts[::-1].index(marker)
                    if i + 1 < len(parts):
                        top = parts[i + 1]
                        name = top[:-3] if top.endswith(".py") else top
                        return name, filename, f.f_lineno
            if not filename.startswith("<") and is_stdlib_file(filename):
                return str(f.f_globals.get("__name__", "?")), filename, f.f_lineno
        f = f.f_back
    return None


def _in_module(frame: Optional[FrameType], module: str) -> bool:
    """Whether a frame of ``module`` (or of a module inside it) is on the blocked thread's stack."""
    inside = module + "."
    f = frame
    while f is not None:
        name = str(f.f_globals.get("__name__", ""))
        if name == module or name.startswith(inside):
            return True
        f = f.f_back
    return False


def _pool_user(ex: Any) -> Optional[Tuple[str, str, int]]:
    """The installed library through which the code under test reached a multiprocessing pool, if any.

    First a library whose call into the pool a virtual thread waits in; else the library the
    body's thread waits in (joblib polls for the pool's results with sleep, outside the pool).
    """
    frames = [getattr(vt.glet, "gr_frame", None) for vt in getattr(ex, "threads", ())]
    for f in frames:
        inside = False
        while f is not None:
            if str(f.f_globals.get("__name__", "")).startswith("multiprocessing."):
                inside = True
            elif inside:
                lib = library_of(f)
                if lib is not None and not is_stdlib_file(lib[1]):
                    return lib
            f = f.f_back
    lib = library_of(frames[0]) if frames else None
    return lib if lib is not None and not is_stdlib_file(lib[1]) else None


def _selector_timeout(frame: Optional[FrameType]) -> Optional[float]:
    """The timeout of the selector call the loop waits in (None: it waits for an event only)."""
    f = frame
    while f is not None:
        if f.f_code.co_name == "select" and str(f.f_globals.get("__name__", "")) == "selectors":
            timeout = f.f_locals.get("timeout")
            return timeout if isinstance(timeout, (int, float)) and timeout > 0 else None
        f = f.f_back
    return None


def describe_real_block(ex: Any, frame: Optional[FrameType], waited: float,
                        unadoptable: List[Tuple[str, Any]]) -> InconclusiveError:
    """The error for a run idle for real: a foreign primitive if one is busy in scope, else I/O."""
    where, inner = _where(ex, frame)
    call = _called_name(inner)
    names = _candidates(frame)
    busy = [n for n in names if "(locked)" in n or "(held)" in n]
    lib = library_of(frame)
    head = (f"interleave: inconclusive: the run blocked its OS thread for real ({waited:.1f} s without "
            f"progress or CPU use) in {where}" + (f", in a call to {call}()" if call else "")
            + (f", in library {lib[0]} ({lib[1]}:{lib[2]})" if lib else "") + ".")
    if busy or (call or "").rsplit(".", 1)[-1] in ("acquire", "wait", "join", "get", "put", "__enter__"):
        lines = [
            head,
            "A Lock, RLock, Condition, Event, Semaphore or Queue created before the run that interleave "
            "could not reach to make cooperative blocks like this: another virtual thread holds it, and "
            "cannot run while this one waits.",
        ]
        if names:
            lines.append("Real primitives in scope there: " + "; ".join(names) + ".")
        bound = [(p, v) for p, v in unadoptable if type(v).__name__ == "_SearchBound"]
        missed = [(p, v) for p, v in unadoptable if type(v).__name__ != "_SearchBound"]
        if missed:
            lines.append("Reached before the run but not made cooperative: "
                         + "; ".join(f"{p} ({type(v).__name__})" for p, v in missed[:5]) + ".")
        # Every module's globals (libraries too, instrumented or not) were already searched,
        # and naming a module in instrument= does not change what is searched: not advised.
        fix = ("Fix: create the object inside the test body (or pass it in), or hold it where interleave "
               "can swap it before the run: a module global, attribute, dict, list or set item, at any depth "
               "(not a tuple or frozenset, not a bound method's object, not a local of a running function, "
               "not an RLock another OS thread holds). Inside the run, threading/queue objects are cooperative.")
        if bound:
            fix += (f" The search of module globals stopped at its budget of {bound[0][1].budget} objects "
                    f"({bound[0][0]}): raise INTERLEAVE_ADOPT_BUDGET to search further.")
        lines.append(fix)
        return ForeignPrimitiveError("\n".join(lines))
    if _in_module(frame, "asyncio"):  # an event loop's selector, waiting for callbacks
        timer = (" or for its next timer (asyncio.sleep, call_later, a timeout), which reads interleave's "
                 "virtual clock: it stands still while the selector waits for real"
                 if _selector_timeout(frame) is not None else "")
        return RealBlockingError("\n".join([
            head,
            "An asyncio event loop is waiting in its selector (in the kernel) for real I/O: a socket, pipe "
            f"or subprocess it watches besides its own wake-up socket, or a signal it handles{timer}. A loop "
            "that watches nothing else waits in virtual time (its timers, to_thread, run_in_executor and "
            "call_soon_threadsafe work inside a run); one that watches real I/O waits for real, and while it "
            "does no virtual thread can run. No verdict was reached: this is neither a pass nor a failure.",
            "Fix: keep the loop's real I/O out of the threads under test (an in-memory stream or a fake "
            "transport instead of a socket), or test the coroutines with asyncio's own tools.",
        ]))
    if _in_module(frame, "multiprocessing.pool"):
        user = _pool_user(ex)
        by = f", reached through {user[0]} ({os.path.basename(user[1])}:{user[2]})" if user else ""
        return RealBlockingError("\n".join([
            head,
            f"This is a multiprocessing pool (multiprocessing.pool.ThreadPool or multiprocessing.dummy.Pool){by}: "
            "even its thread version hands tasks and results to its helper threads through OS pipes, and "
            "waits on them in the kernel, where no other virtual thread can run to answer. No verdict was "
            "reached: this is neither a pass nor a failure.",
            (f"Fix: {user[0]} runs its work on such a pool here: keep that call out of the threads under test, "
             f"or configure {user[0]} not to use it." if user else
             "Fix: use concurrent.futures.ThreadPoolExecutor (its map works alike; apply_async becomes submit), "
             "which interleave runs on virtual threads."),
        ]))
    lines = [
        head,
        "This is real I/O (a socket, pipe, subprocess, file lock or database), or a sleep or wait that "
        "does not go through threading, time or queue: interleave controls threads and virtual time, "
        "not the kernel. While one virtual thread waits in the kernel no other can run, so the thread "
        "that would answer it never does. No verdict was reached: this is neither a pass nor a failure.",
        "Fix: keep real I/O out of the threads under test (do it before starting them or after joining "
        "them), or replace it with an in-memory fake (a queue.Queue instead of a socket, an object "
        "instead of a database). See \"What interleave cannot control\" in the README.",
    ]
    return RealBlockingError("\n".join(lines))


def describe_stall(ex: Any, frame: Optional[FrameType], waited: float) -> StalledRunError:
    """The error for a run busy for a long time without reaching a switch point."""
    where, _inner = _where(ex, frame)
    return StalledRunError(
        f"interleave: inconclusive: the run computed for {waited:.1f} s without reaching a switch point, "
        f"in {where}.\n"
        "The code running there is not traced (a loop in C, or in a module that is not instrumented: "
        "the standard library and site-packages are not, unless named in instrument=[...]), so "
        "interleave cannot count its steps or end it at the step limit. No verdict was reached.\n"
        "Fix: if the loop is endless, that is the bug; if it is long but finite, raise stall_timeout= "
        "(or INTERLEAVE_STALL_SECONDS); to see its steps, add its module with instrument=[...]."
    )


def describe_held(ex: Any, frame: Optional[FrameType], held: float) -> StalledRunError:
    """The error for a call that kept the interpreter for longer than ``stall_timeout``, then returned."""
    where = "the run's next switch point" if frame is None else _where(ex, frame)[0]
    exc = StalledRunError(
        f"interleave: inconclusive: a call held the interpreter for about {held:.1f} s without reaching a "
        f"switch point, and returned just before {where}.\n"
        "It runs in C (a builtin over a huge range, a compiled library) and never lets other Python "
        "threads run, so interleave could not stop it while it ran. No verdict was reached.\n"
        "Fix: give it less work in the test, or raise stall_timeout= (or INTERLEAVE_STALL_SECONDS)."
    )
    exc.held = held  # type: ignore[attr-defined]  # the handler names the place once it runs
    return exc
