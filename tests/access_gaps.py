"""Programs whose race goes through state a builtin reaches without a visible instruction.

Each body fails in some interleaving, usually "the second thread runs first". Before session 13
DPOR claimed a proof on every one of them (found by an adversarial probe): the access model read
only the iterator or view a builtin was given, not what it wraps or that it uses it up; it missed
what ``reversed``, ``isinstance``, ``xs.count`` and ``f(*it)`` read; an instance dict taken before
the threads started was not the object's attributes; a builtin name was not ``builtins``'s item.
"""

from __future__ import annotations

import builtins
from typing import Any, Callable, Dict, List

from runtime_helpers import run_threads


def shared_iterator_drained_twice() -> None:
    it = iter([1, 2])
    out: Dict[str, Any] = {}

    def a() -> None:
        out["a"] = list(it)

    def b() -> None:
        out["b"] = sum(it)

    run_threads(a, b)
    assert out["a"] == [1, 2], out


def dict_view_measured_during_insert() -> None:
    d = {"p": 1}
    keys = d.keys()
    out: Dict[str, Any] = {}

    def a() -> None:
        out["n"] = len(keys)

    def b() -> None:
        d["q"] = 2

    run_threads(a, b)
    assert out["n"] == 1, out


def dict_iterator_drained_during_insert() -> None:
    d = {"p": 1}
    it = iter(d)

    def a() -> None:
        sorted(it)  # RuntimeError: dictionary changed size during iteration

    def b() -> None:
        d["q"] = 2

    run_threads(a, b)


def zip_of_a_shared_iterator() -> None:
    it = iter([1, 2])
    z = zip(it, it)
    out: Dict[str, Any] = {}

    def a() -> None:
        out["a"] = list(z)

    def b() -> None:
        out["b"] = next(it, None)

    run_threads(a, b)
    assert out["a"] == [(1, 2)], out


def memoryview_read_during_write() -> None:
    ba = bytearray(b"ab")
    mv = memoryview(ba)
    out: Dict[str, Any] = {}

    def a() -> None:
        out["a"] = bytes(mv)

    def b() -> None:
        ba[0] = 120

    run_threads(a, b)
    assert out["a"] == b"ab", out


def reversed_made_before_a_pop() -> None:
    xs = [1, 2]
    out: Dict[str, Any] = {}

    def a() -> None:
        r = reversed(xs)
        out["a"] = [x for x in r]

    def b() -> None:
        xs.pop()

    run_threads(a, b)
    assert out["a"] != [1], out


class _A:
    pass


class _B(_A):
    pass


def isinstance_during_class_assignment() -> None:
    o = _A()
    out: Dict[str, Any] = {}

    def a() -> None:
        out["b"] = isinstance(o, _B)

    def b() -> None:
        o.__class__ = _B

    run_threads(a, b)
    assert not out["b"], out


def count_of_lists_one_grows() -> None:
    inner = [1]
    xs = [inner]
    out: Dict[str, Any] = {}

    def a() -> None:
        out["n"] = xs.count([1])

    def b() -> None:
        inner.append(2)

    run_threads(a, b)
    assert out["n"] == 1, out


def copy_of_lists_compared() -> None:
    inner = [1]
    d = {"k": inner}
    out: Dict[str, Any] = {}

    def a() -> None:
        out["same"] = list(d.values()) == [[1]]

    def b() -> None:
        inner.append(2)

    run_threads(a, b)
    assert out["same"], out


def star_args_from_a_shared_iterator() -> None:
    it = iter([1, 2])
    out: Dict[str, Any] = {}

    def gather(*args: int) -> List[int]:
        return list(args)

    def a() -> None:
        out["a"] = gather(*it)

    def b() -> None:
        out["b"] = gather(*it)

    run_threads(a, b)
    assert out["a"] == [1, 2], out


class _Plain:
    pass


def instance_dict_taken_before_the_threads() -> None:
    o = _Plain()
    o.x = 1
    dd = o.__dict__
    out: Dict[str, Any] = {}

    def a() -> None:
        out["x"] = o.x

    def b() -> None:
        dd["x"] = 5

    run_threads(a, b)
    assert out["x"] == 1, out


def builtin_name_set_by_another_thread() -> None:
    builtins.__dict__.pop("interleave_gap_hook", None)
    out: Dict[str, Any] = {}

    def a() -> None:
        try:
            out["v"] = interleave_gap_hook  # type: ignore[name-defined]  # noqa: F821
        except NameError:
            out["v"] = None

    def b() -> None:
        builtins.interleave_gap_hook = 1  # type: ignore[attr-defined]

    try:
        run_threads(a, b)
    finally:
        builtins.__dict__.pop("interleave_gap_hook", None)
    assert out["v"] is None, out


def key_is_a_bound_builtin_method() -> None:
    d = {"a": 1, "b": 2}
    ks = ["a", "b"]
    out: Dict[str, Any] = {}

    def a() -> None:
        out["first"] = min(ks, key=d.get)
        ks.sort(key=d.get)

    def b() -> None:
        d["a"] = 10

    run_threads(a, b)
    assert out["first"] == "a", out


class _Flagged:
    pass


def hasattr_and_dir_of_a_class() -> None:
    out: Dict[str, Any] = {}

    def a() -> None:
        out["has"] = hasattr(_Flagged, "seen")
        out["dir"] = "seen" in dir(_Flagged)

    def b() -> None:
        _Flagged.seen = True  # type: ignore[attr-defined]

    try:
        run_threads(a, b)
    finally:
        if "seen" in _Flagged.__dict__:
            delattr(_Flagged, "seen")
    assert not out["has"] and not out["dir"], out


def dict_iterator_made_with_dunder_iter() -> None:
    d = {"p": 1}
    out: Dict[str, Any] = {}

    def a() -> None:
        it = d.__iter__()
        try:
            out["a"] = list(it)
        except RuntimeError:  # the insert came between: the iterator saw the size change
            out["a"] = None

    def b() -> None:
        d["q"] = 2

    run_threads(a, b)
    assert out["a"] != ["p", "q"], out  # the insert came before the iterator was made


PROGRAMS: Dict[str, Callable[[], None]] = {f.__name__: f for f in (
    shared_iterator_drained_twice, dict_view_measured_during_insert, dict_iterator_drained_during_insert,
    zip_of_a_shared_iterator, memoryview_read_during_write, reversed_made_before_a_pop,
    isinstance_during_class_assignment, count_of_lists_one_grows, copy_of_lists_compared,
    star_args_from_a_shared_iterator, instance_dict_taken_before_the_threads,
    builtin_name_set_by_another_thread, key_is_a_bound_builtin_method, hasattr_and_dir_of_a_class,
    dict_iterator_made_with_dunder_iter)}
