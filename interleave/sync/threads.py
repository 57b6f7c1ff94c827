"""Replacements for the ``_thread`` names that ``threading`` reads: threads become greenlets."""

from __future__ import annotations

import _thread
import sys
import threading
from types import FrameType, MethodType
from typing import Any, Callable, Dict, Optional

from greenlet import GreenletExit

from ..instrument.filter import HARNESS_DIR
from ..runtime import context as _context
from ..runtime.vthread import DONE
from ..versions import CURRENT
from .lock import Lock
from .running import running

_MISSING = object()
_real_get_ident = _thread.get_ident
_real_start_new_thread = _thread.start_new_thread
_real_get_native_id = getattr(_thread, "get_native_id", None)
_real_current_frames = sys._current_frames


def get_ident() -> int:
    """The virtual thread's ident inside a run."""
    # ``running()`` written out: threading asks for the ident several times per thread.
    ident = _real_get_ident()
    ex = _context.active
    if ex is None or ident != ex.os_ident:
        return ident
    cur = ex.current  # None on the scheduler's own greenlet (a profiler the body set runs there too)
    return ident if cur is None else cur.ident


def get_native_id() -> int:
    """The virtual thread's native id inside a run (same as its ident)."""
    ex = _context.active
    cur = None if ex is None or _real_get_ident() != ex.os_ident else ex.current
    return _real_get_native_id() if cur is None else cur.ident  # type: ignore[misc]


def current_frames() -> Dict[int, FrameType]:
    """``sys._current_frames()`` inside a run: every live virtual thread's frame, under its ident.

    The OS thread the run's threads share is left out (it stands for all of them); a suspended
    thread's frame is where its own code stands, not the harness's switch below it.
    """
    frames = _real_current_frames()
    ex = _context.active
    if ex is None or _real_get_ident() != ex.os_ident or ex.current is None:
        return frames
    frames.pop(ex.os_ident, None)
    me = ex.current
    for vt in ex.threads:
        if vt.ident is None or vt.state == DONE:  # not started, or ended
            continue
        frame = sys._getframe(1) if vt is me else _own_frame(vt)
        if frame is not None:
            frames[vt.ident] = frame
    return frames


def _own_frame(vt: Any) -> Optional[FrameType]:
    """The innermost frame of a suspended thread's greenlet that is not the harness's.

    A thread paused before its ``run`` (its target is not code under test) has none yet: it
    stands in its bootstrap, as a real thread would stand in threading's.
    """
    g = vt.glet
    f = g.gr_frame if g is not None else None
    start = None
    while f is not None and f.f_code.co_filename.startswith(HARNESS_DIR):
        if f.f_code is _BOOTSTRAP_CODE:
            start = f
        f = f.f_back
    return f or start


def _refuse_at_teardown(ex: Any) -> None:
    """A thread started while the execution unwinds its threads fails, as at interpreter shutdown."""
    if ex.tearing_down:
        # What CPython says when a thread starts one during interpreter shutdown.
        raise RuntimeError("can't create new thread at interpreter shutdown")


def _spawn(ex: Any, function: Callable[..., Any], args: tuple, kwargs: Optional[dict], daemon: bool) -> Any:
    _refuse_at_teardown(ex)
    thread = getattr(function, "__self__", None)  # threading.Thread._bootstrap
    name = getattr(thread, "name", None)
    if thread is not None:
        daemon = getattr(thread, "daemon", daemon)
    if thread is not None and isinstance(getattr(thread, "_started", None), threading.Event):
        _pause_before_run(ex, thread)
    elif ex.needs_start_point(function):
        function = _with_start_point(ex, function)
    vt = ex.spawn(function, args, kwargs, name=name, daemon=daemon)
    vt.thread = thread
    return vt


def _thread_code(thread: Any) -> Any:
    """What a Thread runs: its target, or its class's own run()."""
    run = type(thread).run
    if run is threading.Thread.run:
        return thread.__dict__.get("_target") or run
    return run


def _pause_before_run(ex: Any, thread: Any) -> None:
    """A switch point just before ``thread.run()`` when its code would offer none.

    A new thread runs its bootstrap at once, up to its first switch point. When its target
    is not instrumented (``target=event.set``, ``target=queue.put``, a lambda with nothing
    visible), that would run the whole thread inside ``start()``: the point before run() keeps
    "started but has not run yet" a state other threads can see. ``_bootstrap_inner`` calls
    ``self.run()``, so a one-shot instance attribute shadows the class's run and removes itself.
    """
    what = _thread_code(thread)
    if not ex.needs_start_point(what):
        return
    own = thread.__dict__.get("run", _MISSING)
    original = thread.run

    def run() -> None:
        if own is _MISSING:
            thread.__dict__.pop("run", None)
        else:
            thread.__dict__["run"] = own
        ex.thread_point(what)
        original()

    thread.__dict__["run"] = run


def _with_start_point(ex: Any, function: Callable[..., Any]) -> Callable[..., Any]:
    """The same for a raw ``_thread.start_new_thread`` function."""

    def started(*args: Any, **kwargs: Any) -> Any:
        ex.thread_point(function)
        return function(*args, **kwargs)

    return started


def start_new_thread(function: Callable[..., Any], args: tuple, kwargs: Optional[dict] = None) -> int:
    """``_thread.start_new_thread`` inside a run: a new virtual thread."""
    ex = _context.active
    if ex is None or _real_get_ident() != ex.os_ident:  # ``running()``, once per thread start
        return _real_start_new_thread(function, args, *([kwargs] if kwargs is not None else []))
    if not isinstance(args, tuple):
        raise TypeError("2nd arg must be a tuple")
    thread = getattr(function, "__self__", None)
    if not args and not kwargs and _plain_start(function, thread):
        vt = _spawn_thread(ex, thread)
        _run_start_prelude(ex, vt, thread)
        return vt.ident
    vt = _spawn(ex, function, args, kwargs, daemon=True)
    ex.run_prelude(vt)
    return vt.ident


# The stock bootstrap of a ``threading.Thread``: ``Thread.start`` hands ``self._bootstrap`` to
# the low-level start. A thread whose class keeps threading's own bootstrap is started by
# ``_bootstrap_thread`` instead (below).
_THREAD_BOOTSTRAP = threading.Thread._bootstrap  # type: ignore[attr-defined]
# threading's private steps of a thread's start and end: a class that overrides one of them is
# started (and joined) the standard way, so that its own version runs.
_PRIVATE_STEPS = tuple((name, getattr(threading.Thread, name)) for name in (
    "_bootstrap_inner", "_set_ident", "_set_tstate_lock", "_set_native_id", "_delete", "_stop")
    if hasattr(threading.Thread, name))
_THREAD_STOP = getattr(threading.Thread, "_stop", None)
_Event = threading.Event
_Thread = threading.Thread
_HAVE_NATIVE_ID = hasattr(threading.Thread, "_set_native_id")
# Up to 3.12 a thread has a tstate lock (``join`` waits on it); 3.13 joins on its handle.
_TSTATE_LOCK = not CURRENT.thread_handles


def _run_start_prelude(ex: Any, vt: Any, thread: Any) -> None:
    """``run_prelude`` for a Thread that ``Thread.start`` then waits for (see ``_SetOnce``)."""
    started = thread._started
    if not started._cond._waiters:
        # ``Thread.start`` waits on ``_started`` next, which the prelude has set by then:
        # ``_SetOnce.wait`` returns at once and makes it a plain Event again.
        started.__class__ = _SetOnce
    try:
        ex.run_prelude(vt)
    except BaseException:
        started.__class__ = _Event  # unwound before start's wait: nothing else changed it
        raise


class _SetOnce(threading.Event):
    """A starting Thread's ``_started`` Event, until ``Thread.start`` waits on it once.

    ``Event.wait`` on a set Event still goes through its Condition and lock (six Python calls);
    nobody holds that lock across a switch point, so a set flag is the whole answer.
    """

    def wait(self, timeout: Optional[float] = None) -> bool:
        """``Event.wait``, back to a plain Event first."""
        self.__class__ = _Event  # type: ignore[assignment]
        if self._flag:  # type: ignore[attr-defined]
            return True
        return self.wait(timeout)


def _plain_start(function: Any, thread: Any) -> bool:
    """Whether ``function`` is the stock bootstrap of a Thread with a plain ``_started`` Event."""
    if type(function) is not MethodType or function.__func__ is not _THREAD_BOOTSTRAP:
        return False
    cls = type(thread)
    if cls is not threading.Thread and any(getattr(cls, name) is not own for name, own in _PRIVATE_STEPS):
        return False
    return type(thread.__dict__.get("_started")) is _Event


def _spawn_thread(ex: Any, thread: Any) -> Any:
    """``_spawn`` for a Thread that ``_bootstrap_thread`` runs."""
    if ex.tearing_down:
        _refuse_at_teardown(ex)
    what = _thread_code(thread)
    if type(thread) is _Thread:
        # The properties' own answers, without their calls (a subclass may override them).
        name, daemon = thread._name, thread._daemonic  # type: ignore[attr-defined]
    else:
        name, daemon = thread.name, thread.daemon
    vt = ex.spawn(_bootstrap_thread, (thread, what if ex.needs_start_point(what) else None), None,
                  name=name, daemon=daemon)
    vt.thread = thread
    return vt


def _bootstrap_thread(thread: Any, pause: Any) -> None:
    """What ``Thread._bootstrap_inner`` does in a new thread, without its handshake.

    threading's bootstrap sets the thread's ident, makes and takes its tstate lock (up to 3.12:
    the lock ``join`` waits on, released when the thread ends) and records it for interpreter
    shutdown, sets the ``_started`` Event, moves the thread from ``_limbo`` to ``_active`` and
    calls ``run()``. It costs a dozen Python calls through cooperative locks (the Event's
    Condition, ``_maintain_shutdown_locks``) for steps no other thread can observe: the new
    thread runs them at once in ``run_prelude``, before any switch point. Here they are done
    directly, to the same attributes and registries; interpreter shutdown is not part of a run,
    so the tstate lock is not added to ``_shutdown_locks``. ``pause``, if set, is what the thread
    runs when that offers no switch point of its own (see ``_pause_before_run``).
    """
    ex = _context.active
    vt = ex.current
    ident = vt.ident
    th = threading
    try:
        thread._ident = ident
        if _TSTATE_LOCK:
            lock = Lock()
            lock._real.acquire()
            lock._holder_tid = vt.tid
            thread._tstate_lock = vt.sentinel = lock
        if _HAVE_NATIVE_ID:
            thread._native_id = ident
        started = thread._started
        if started._cond._waiters:
            started.set()
        else:
            started._flag = True  # ``set()`` with nobody waiting: no Condition round trip
        with th._active_limbo_lock:  # type: ignore[attr-defined]
            th._active[ident] = thread  # type: ignore[attr-defined]
            del th._limbo[thread]  # type: ignore[attr-defined]
        if th._trace_hook:  # type: ignore[attr-defined]
            sys.settrace(th._trace_hook)  # type: ignore[attr-defined]
        if th._profile_hook:  # type: ignore[attr-defined]
            sys.setprofile(th._profile_hook)  # type: ignore[attr-defined]
        try:
            if pause is not None:
                ex.thread_point(pause)
            thread.run()
        except:  # noqa: E722 - as threading's bootstrap: every escape goes to the excepthook
            thread._invoke_excepthook(thread)
    finally:
        with th._active_limbo_lock:  # type: ignore[attr-defined]
            th._active.pop(ident, None)  # type: ignore[attr-defined]


_BOOTSTRAP_CODE = _bootstrap_thread.__code__


def wait_for_tstate_lock(thread: Any, block: bool = True, timeout: float = -1) -> None:
    """``Thread._wait_for_tstate_lock`` (<=3.12, under ``join`` and ``is_alive``) in a run.

    The same steps as threading's (take the tstate lock, give it back, mark the thread
    stopped), on the cooperative lock directly: no switch point, as for any lock operation
    the standard library makes, and ``_stop``'s shutdown-lock upkeep is left out (see
    ``_bootstrap_thread``).
    """
    lock = thread._tstate_lock
    ex = _context.active
    if (type(lock) is not Lock or ex is None or _real_get_ident() != ex.os_ident
            or type(thread)._stop is not _THREAD_STOP):
        return _real_wait_for_tstate_lock(thread, block, timeout)  # type: ignore[misc]
    real = lock._real
    try:
        if real.acquire(False):
            # The thread has ended (the usual case by the time it is joined): taken and given
            # back at once, ``_stopped`` written out.
            real.release()
            lock._holder_tid = None
            q = lock._queue
            if q is not None and q.waiters:
                q.unpark_all()
            thread._is_stopped = True
            thread._tstate_lock = None
            return None
        if not block or not lock.wait_to_take(ex, timeout):
            return None
        _stopped(thread, lock)
    except BaseException:
        # As threading does (bpo-45274): interrupted after taking it, or unwound while
        # waiting, the lock is given back and the thread counts as stopped.
        if real.locked():
            _stopped(thread, lock)
        raise
    return None


def _stopped(thread: Any, lock: Lock) -> None:
    """The tstate lock taken: give it back and mark the thread stopped (threading's ``_stop``)."""
    lock.release_unscheduled()
    thread._is_stopped = True
    thread._tstate_lock = None


_real_wait_for_tstate_lock = getattr(threading.Thread, "_wait_for_tstate_lock", None)


class ThreadHandle:
    """``_thread._ThreadHandle`` (3.13) for a virtual thread."""

    __slots__ = ("ident", "_done", "_vt")

    def __init__(self, ident: Optional[int] = None) -> None:
        self.ident = ident
        self._done = False
        self._vt: Any = None

    def join(self, timeout: Optional[float] = None) -> None:
        """Wait for the virtual thread to finish (virtual time for the timeout)."""
        if self._done or self._vt is None:
            return
        ex = running()
        if ex is None:
            return  # the run that owned this thread is over
        if ex.current is self._vt:
            raise RuntimeError("Cannot join current thread")
        ex.join_thread(self._vt, None if timeout is None or timeout < 0 else timeout)

    def is_done(self) -> bool:
        """Whether the virtual thread has finished."""
        return self._done

    def _set_done(self) -> None:
        self._done = True
        self._vt = None  # the thread refers to its handle: no cycle left for the collector

    def __repr__(self) -> str:
        return f"<interleave ThreadHandle ident={self.ident} done={self._done}>"


_real_start_joinable = getattr(_thread, "start_joinable_thread", None)
_RealThreadHandle = getattr(_thread, "_ThreadHandle", None)
_real_set_sentinel = getattr(_thread, "_set_sentinel", None)


def start_joinable_thread(function: Callable[..., Any], handle: Optional[ThreadHandle] = None,
                          daemon: bool = True) -> Any:
    """``_thread.start_joinable_thread`` (3.13) inside a run."""
    ex = running()
    if ex is None:
        if isinstance(handle, ThreadHandle):
            # A real thread started while a session is open but between its executions (a
            # progress callback, a strategy's helper): its Thread was given one of our handles
            # by the patched ``threading._ThreadHandle``; the real call needs a real one.
            real = _RealThreadHandle()  # type: ignore[misc]
            thread = getattr(function, "__self__", None)
            if thread is not None and getattr(thread, "_handle", None) is handle:
                thread._handle = real
            handle = real
        return _real_start_joinable(function, handle=handle, daemon=daemon)  # type: ignore[misc]
    thread = getattr(function, "__self__", None)
    if not isinstance(handle, ThreadHandle):
        # None, or the C handle of a Thread built before the run: give the Thread one of ours.
        handle = ThreadHandle()
        if thread is not None and hasattr(thread, "_handle"):
            thread._handle = handle
    plain = _plain_start(function, thread)
    vt = _spawn_thread(ex, thread) if plain else _spawn(ex, function, (), None, daemon)
    vt.handle = handle
    handle.ident = vt.ident
    handle._vt = vt
    if plain:
        _run_start_prelude(ex, vt, thread)
    else:
        ex.run_prelude(vt)
    return handle


def make_thread_handle(ident: int) -> ThreadHandle:
    """``_thread._make_thread_handle`` (3.13)."""
    return ThreadHandle(ident)


def set_sentinel() -> Lock:
    """``_thread._set_sentinel`` (<=3.12): a lock released when the virtual thread ends."""
    ex = _context.active
    if ex is None or _real_get_ident() != ex.os_ident:  # ``running()``, once per thread start
        # A real thread started between executions: the interpreter releases its sentinel when
        # the thread state goes away, which only a real sentinel gets.
        return _real_set_sentinel()  # type: ignore[misc]
    lock = Lock()
    ex.current.sentinel = lock
    return lock


def make_excepthook(previous: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A ``threading.excepthook`` that turns an uncaught thread exception into a finding."""

    def excepthook(args: Any) -> None:
        if isinstance(args.exc_value, GreenletExit):
            return  # a thread unwound by the end of its execution
        ex = running()
        if ex is None:
            previous(args)
            return
        if args.exc_type is SystemExit:
            return
        ex.thread_failed(ex.current, args.exc_value)

    return excepthook


def make_invoke_excepthook_factory(real_factory: Callable[[], Any]) -> Callable[[], Any]:
    """``threading._make_invoke_excepthook`` for threads created in a run.

    The standard one prints a failing hook's error to stderr and goes on; here a hook that
    raises is itself an uncaught error of the thread, so the run fails with it. A hook the
    code under test installed is honoured: it decides what an uncaught exception means.
    """

    def factory() -> Callable[[Any], None]:
        ex = _context.active
        if ex is None or _real_get_ident() != ex.os_ident:  # ``running()``: at every Thread()
            return real_factory()
        # One function for every thread: it keeps nothing of its own (threading's closure keeps
        # the hooks of the moment for interpreter shutdown, which is not part of a run).
        return _invoke_excepthook

    return factory


def _invoke_excepthook(thread: Any) -> None:
    """What a Thread made in a run calls for an uncaught exception (``factory`` above)."""
    info = sys.exc_info()
    installed: Any = threading.excepthook  # user code may have set it to None
    hook = installed or _recording_hook
    args = threading.ExceptHookArgs([*info, thread])
    try:
        hook(args)
    except BaseException as exc:  # noqa: BLE001 - the hook's own failure is the finding
        if isinstance(exc, GreenletExit):
            raise
        ex = running()
        if ex is not None:
            ex.thread_failed(ex.current, exc)
    finally:
        args = None  # type: ignore[assignment]  # as threading does: no reference cycle


def _recording_hook(args: Any) -> None:
    ex = running()
    if ex is not None and not isinstance(args.exc_value, (GreenletExit, SystemExit)):
        ex.thread_failed(ex.current, args.exc_value)


def make_register_atexit(previous: Callable[..., Any]) -> Callable[..., Any]:
    """``threading._register_atexit`` bound to the execution, so nothing outlives the run."""

    def register_atexit(func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        ex = running()
        if ex is None:
            previous(func, *args, **kwargs)
            return
        ex.atexits.append(lambda: func(*args, **kwargs))

    return register_atexit
