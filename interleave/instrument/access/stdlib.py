"""Access models of standard-library calls that call code under test back: ``re``, ``functools.reduce``.

While a callback runs, the call that made it is in progress, and every switch point of the
callback also touches what the call touches (tracker.py): a call without a model touches
everything there, so the callback's points depend on every other thread's operations. These
calls touch little that another thread can reach: ``re`` reads the pattern and the string
(immutable, unless the string is a buffer), ``reduce`` reads the iterable as it goes. The
callback's own accesses are switch points of code under test, seen as usual; a callback that
is not code under test leaves the call without a model.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence

from .models import get_iter_access, iterate_access
from .record import NONE_ACCESS, Access
from .values import python_user_callable
from .vocabulary import EVERYTHING, FRESH, IMM, NEW_GEN, UNKNOWN, Abstract, Lazy, Loc, is_immutable

_PATTERN = re.Pattern
_MATCH = re.Match
_FLAG = re.RegexFlag

# The ``re`` functions and ``Pattern`` methods: name -> what they return (for an immutable
# string): IMM a string, a number or a tuple of such; FRESH a new list; "iter" an iterator of
# new Match objects; "match" a new Match object or None.
_RE_RESULTS = {
    "sub": IMM, "subn": IMM, "escape": IMM, "split": FRESH, "findall": FRESH, "finditer": "iter",
    "match": "match", "search": "match", "fullmatch": "match", "compile": "pattern",
}
_MATCH_RESULTS = {"group": IMM, "groups": IMM, "span": IMM, "start": IMM, "end": IMM, "expand": IMM,
                  "__getitem__": IMM, "groupdict": FRESH}
_RE_KEYWORDS = frozenset("count flags maxsplit pos endpos".split())


def _text(v: Any) -> bool:
    """A string argument that matching cannot see change (str or bytes)."""
    return type(v) is str or type(v) is bytes


def _callback(v: Any) -> bool:
    """A function under test (FRESH: a function the calling frame has just made, a lambda)."""
    return v is FRESH or python_user_callable(v)


def _small(v: Any) -> bool:
    """A count, a position or flags."""
    return type(v) is int or type(v) is _FLAG or type(v) is bool


def re_call_ok(name: str, pos: Sequence[Any], kwargs: Dict[str, Any], pattern: Any = None) -> bool:
    """Whether ``re.name(*pos, **kwargs)`` (``pattern.name(...)`` when ``pattern`` is given) reads
    only immutable values and calls back only code under test."""
    if name not in _RE_RESULTS or any(k not in _RE_KEYWORDS or not _small(v) for k, v in kwargs.items()):
        return False
    args = list(pos)
    if pattern is None:
        if not args:
            return False
        pattern = args.pop(0)
        if name == "escape":
            return not args and _text(pattern)
        if type(pattern) is not _PATTERN and not _text(pattern):
            return False
    elif name in ("compile", "escape"):
        return False
    if name in ("sub", "subn"):
        if not args:
            return False
        repl = args.pop(0)
        if not _text(repl) and not _callback(repl):
            return False
    if name == "compile":
        return all(_small(v) for v in args)
    return bool(args) and _text(args[0]) and all(_small(v) for v in args[1:])


def re_model(name: str, pos: Sequence[Any], kwargs: Dict[str, Any], pattern: Any = None) -> Optional[Access]:
    """The access of an ``re`` call or ``Pattern`` method: nothing shared (re's own compiled-pattern
    cache is not the program's state); None when the arguments are not all plain."""
    return NONE_ACCESS if re_call_ok(name, pos, kwargs, pattern) else None


def re_result(name: str, pos: Sequence[Any], kwargs: Dict[str, Any], pattern: Any = None) -> Any:
    """What an ``re`` call or ``Pattern`` method returns, as far as the accesses care."""
    if not re_call_ok(name, pos, kwargs, pattern):
        return UNKNOWN
    r = _RE_RESULTS[name]
    if r == "iter":
        return Lazy(())  # its Match objects are new: iterating it reads nothing shared
    if r == "match" or r == "pattern":
        return UNKNOWN  # a new object, but unknown until the call has run
    return r


def match_model(m: Any, name: str) -> Optional[Access]:
    """A ``Match`` method on a match over an immutable string: reads nothing shared."""
    if type(m) is _MATCH and name in _MATCH_RESULTS and _text(m.string):
        return NONE_ACCESS
    return None


def match_result(m: Any, name: str) -> Any:
    """What a ``Match`` method returns (a string, a number, a tuple of such, or a new dict)."""
    if type(m) is _MATCH and name in _MATCH_RESULTS and _text(m.string):
        return _MATCH_RESULTS[name]
    return UNKNOWN


def reduce_model(pos: Sequence[Any], kwargs: Dict[str, Any]) -> Optional[Access]:
    """``functools.reduce(f, iterable[, initial])`` with ``f`` code under test: it iterates the
    iterable between the calls of ``f`` (what a ``for`` over it reads: the container's items, a
    generator's resumption); the values only go to ``f``."""
    if kwargs or len(pos) not in (2, 3) or not _callback(pos[0]):
        return None
    return consume_model(pos[1], "reduce")


def consume_model(src: Any, name: str) -> Optional[Access]:
    """C code that iterates ``src`` to its end, step by step (``iter(src)``, then ``next`` until
    it stops); None if that is not known."""
    if src is FRESH or src is IMM or src is NEW_GEN:
        return NONE_ACCESS  # made by this thread just now (a list display, a generator expression)
    if src is UNKNOWN or issubclass(type(src), Abstract):
        return None
    locs: List[Any] = []
    for a in (get_iter_access(src), iterate_access(src if type(src) is Lazy else Lazy((src,)), iterator=True)):
        if a.locs is EVERYTHING or any(loc[0] == Loc.ALL for loc, _ in a.locs):
            return None
        locs.extend(a.locs)
    if not locs:
        return NONE_ACCESS
    kind = "write" if any(w for _, w in locs) else "read"
    return Access(kind, tuple(dict.fromkeys(locs)), name=name, space="")


def immutable_args(vals: Sequence[Any]) -> bool:
    """Whether every value is immutable (nothing another thread can change)."""
    return all(v is IMM or is_immutable(v) for v in vals)


# itertools classes whose iterators read their iterables lazily, as a ``for`` over them would:
# name -> (positions of the callables they call, which must be code under test; do the steps
# yield new tuples; do they look into values the harness does not know: the truth of what a
# predicate returned, the items of what ``starmap`` unpacks). Their other arguments are
# iterables or numbers. (``compress`` tests the truth of its selectors: not modelled.)
_ITERTOOLS = {
    "chain": ((), False, False), "islice": ((), False, False), "zip_longest": ((), True, False),
    "pairwise": ((), True, False), "cycle": ((), False, False), "repeat": ((), False, False),
    "count": ((), False, False), "batched": ((), True, False), "starmap": ((0,), False, True),
    "takewhile": ((0,), False, True), "dropwhile": ((0,), False, True),
    "filterfalse": ((0,), False, True), "accumulate": ((1,), False, False),
}


def _itertools_args(cls: type, pos: Sequence[Any], kwargs: Dict[str, Any]) -> Optional[List[Any]]:
    """The iterables of an itertools call, or None when the call is not one the models know
    (an unknown class, or a callable that is not code under test)."""
    spec = _ITERTOOLS.get(cls.__name__)
    if spec is None or getattr(__import__("itertools"), cls.__name__, None) is not cls:
        return None
    calls = spec[0]
    if cls.__name__ == "accumulate":
        # accumulate(xs) adds the items itself (an item's ``+`` may read it): only with a func.
        func = pos[1] if len(pos) > 1 else kwargs.get("func")
        if func is None or not _callback(func):
            return None
        return [pos[0]] if pos else None
    if any(k not in ("fillvalue", "times", "start", "step", "initial") for k in kwargs):
        return None
    out = []
    for i, v in enumerate(pos):
        if i in calls:
            if not _callback(v):
                return None
        else:
            out.append(v)
    if cls.__name__ == "repeat":
        return []  # it yields its object; it reads nothing
    return out


def itertools_model(cls: type, pos: Sequence[Any], kwargs: Dict[str, Any]) -> Optional[Access]:
    """Making an itertools iterator: ``iter()`` of each iterable (a dict's, set's or deque's
    iterator reads its size); None if not modelled."""
    srcs = _itertools_args(cls, pos, kwargs)
    if srcs is None:
        return None
    locs: List[Any] = []
    for v in srcs:
        if v is FRESH or v is IMM or v is NEW_GEN:
            continue  # made by this thread just now: nobody else's
        if v is UNKNOWN or issubclass(type(v), Abstract):
            return None
        a = get_iter_access(v)
        if a.locs is EVERYTHING or any(loc[0] == Loc.ALL for loc, _ in a.locs):
            return None
        locs.extend(a.locs)
    return Access("read", tuple(locs), name=cls.__name__, space="") if locs else NONE_ACCESS


def itertools_result(cls: type, pos: Sequence[Any], kwargs: Dict[str, Any]) -> Any:
    """The iterator an itertools call returns: it reads its iterables when iterated."""
    srcs = _itertools_args(cls, pos, kwargs)
    if srcs is None:
        return UNKNOWN
    _, tuples, deep = _ITERTOOLS[cls.__name__]
    if cls.__name__ == "starmap" and len(srcs) == 1 and type(srcs[0]) is Lazy and srcs[0].tuples \
            and not srcs[0].deep:
        deep = False  # it unpacks new tuples (``starmap(f, zip(xs, ys))``): nothing shared
    return Lazy(tuple(srcs), tuples, deep)
