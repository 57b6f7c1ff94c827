"""The loop-iteration countdown both tracing back-ends share: loop budget, lone-thread steps, Ctrl-C."""

from __future__ import annotations

from types import CodeType, FunctionType
from typing import TYPE_CHECKING, Any, Callable, Dict, Tuple, TypeVar, cast

if TYPE_CHECKING:
    from .backend import Backend

#: The countdown's variables that a back-end's per-iteration callback reads and writes itself.
SHARED = ("left", "room")

F = TypeVar("F", bound=Callable[..., Any])


class Countdown:
    """Every loop iteration of instrumented code counts, whatever the loop contains.

    A loop with no visible instruction offers no switch point at all, so the back-ends count
    iterations (backward jumps, or passes through loop heads) themselves. Outside a solo phase
    the countdown is the execution's loop budget; during one it counts the lone thread's steps
    (``room`` were left when the phase began) and the loop budget waits in ``saved``.

    The count lives in closure cells, not attributes, because the back-end's callback touches
    it once per iteration and a cell is the cheapest place Python has to decrement (about 60 ns
    an iteration less than an attribute). Python shares a cell only between functions nested
    in one scope, so a back-end writes its callback naming ``left`` and ``room`` as free
    variables and ``share`` hands it this countdown's cells in place of its own.
    """

    def __init__(self, backend: Backend) -> None:
        ctx = backend.context
        room = left = saved = 0

        def start_counting(ex: Any) -> None:
            nonlocal room, left, saved
            saved = left
            room = left = max(1, ex.max_steps - ex.steps)

        def expired(code: CodeType, offset: int) -> None:
            nonlocal left
            ex = ctx.active
            if ex is None:
                left = backend.loop_budget
            elif room and ex.internal_error is None:
                ex.solo_expired()  # ends the phase: the back-end's solo_end calls ``end_solo``
            else:
                left = 1  # unwinding: every further iteration is a teardown tick
                ex.loop_limit(code, offset)

        def solo_steps() -> int:
            return room - left if room else 0

        def hurry() -> None:
            nonlocal left
            left = 1  # the next loop iteration comes to ``expired``

        def begin() -> None:
            nonlocal left, room, saved
            left = backend.loop_budget
            room = saved = 0

        def end_solo() -> int:
            nonlocal room, left
            counted = room - left if room else 0
            if room:
                left = saved
            room = 0
            return counted

        #: Called the first time a lone thread's loop is counted: its steps start counting.
        self.start_counting = start_counting
        #: Called when ``left`` reaches 0 at an iteration of ``code`` (``offset``).
        self.expired = expired
        #: Loop iterations counted in the current solo phase so far (``Backend.solo_steps``).
        self.solo_steps = solo_steps
        #: Makes the next loop iteration call ``expired`` (``Backend.hurry``).
        self.hurry = hurry
        #: Gives a new execution the whole loop budget.
        self.begin = begin
        #: Ends a solo phase's count, puts the loop budget back, returns the steps counted.
        self.end_solo = end_solo
        closure = cast(Tuple[Any, ...], end_solo.__closure__)
        self._cells: Dict[str, Any] = dict(zip(end_solo.__code__.co_freevars, closure))

    def share(self, fn: F) -> F:
        """``fn`` again, with its free variables ``left`` and ``room`` bound to this countdown.

        ``fn`` may also be a factory: the functions it creates inherit the cells.
        """
        code = fn.__code__
        names = code.co_freevars
        if not set(SHARED) & set(names):
            raise TypeError(f"{fn.__qualname__} names neither of {SHARED}: nothing to share")
        cells = tuple(self._cells[name] if name in SHARED else cell
                      for name, cell in zip(names, fn.__closure__ or ()))
        shared = FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__, cells)
        shared.__kwdefaults__ = fn.__kwdefaults__
        shared.__qualname__ = fn.__qualname__
        return cast(F, shared)
