"""The access model: what each switch point touches (interleave.instrument.access)."""

from __future__ import annotations

import dis
import os
import sys
import threading
from types import FrameType
from typing import Any, Callable, Dict, List, Tuple

import pytest

import interleave
from interleave.instrument import access as A

SHARED: Dict[str, int] = {"k": 0}
TOTAL = 0


class Counter:
    """A plain object with an attribute."""

    def __init__(self) -> None:
        self.value = 0


class WithProperty:
    """A property implemented in code under test (its getter has switch points of its own)."""

    def __init__(self) -> None:
        self._v = 1

    @property
    def v(self) -> int:
        return self._v


def run_and_keep_frame(fn: Callable[..., Any], *args: Any) -> FrameType:
    """Run ``fn`` (which stores its frame in ``frames``) and return that frame, locals intact."""
    frames.clear()
    fn(*args)
    return frames[0]


frames: List[FrameType] = []


def offset_of(fn: Callable[..., Any], opname_prefix: str, argval: Any = None, nth: int = 0) -> int:
    """The offset of the ``nth`` instruction whose name starts with the prefix (and argval)."""
    hits = [i.offset for i in dis.get_instructions(fn)
            if i.opname.startswith(opname_prefix) and (argval is None or i.argval == argval)]
    return hits[nth]


def desc(fn: Callable[..., Any], frame: FrameType, opname: str, argval: Any = None, nth: int = 0) -> A.Access:
    return A.describe(frame, fn.__code__, offset_of(fn, opname, argval, nth))


def kinds(acc: A.Access) -> List[Tuple[str, bool]]:
    return [(loc[0], w) for loc, w in acc.locs]


# ---------------------------------------------------------------------------------- attributes


def attr_rw(c: Counter) -> None:
    frames.append(sys._getframe())
    c.value = c.value + 1


def test_attribute_read_and_write_name_the_object_and_attribute() -> None:
    c = Counter()
    f = run_and_keep_frame(attr_rw, c)
    read = desc(attr_rw, f, "LOAD_ATTR", "value")
    write = desc(attr_rw, f, "STORE_ATTR", "value")
    assert read.kind == "read" and write.kind == "write"
    assert read.obj is c and write.obj is c
    assert read.locs == ((("a", id(c), "value"), False),)
    assert write.locs == ((("a", id(c), "value"), True),)
    assert read.text == "read Counter.value" and write.text == "write Counter.value"
    assert write.value_now() == 1  # what the write stored, read back for a report


def cell_and_global() -> Callable[[], None]:
    box = Counter()

    def inner() -> None:
        global TOTAL
        frames.append(sys._getframe())
        box.value += 1
        TOTAL = TOTAL + 1

    return inner


def test_cells_and_globals() -> None:
    inner = cell_and_global()
    f = run_and_keep_frame(inner)
    cell = desc(inner, f, "LOAD_DEREF", "box")
    assert cell.kind == "read" and cell.locs == ((("c", "box"), False),)
    assert cell.text == "read cell box"
    g_read = desc(inner, f, "LOAD_GLOBAL", "TOTAL")
    g_write = desc(inner, f, "STORE_GLOBAL", "TOTAL")
    assert g_read.locs == ((("i", id(globals()), "TOTAL"), False),)
    assert g_write.locs == ((("i", id(globals()), "TOTAL"), True),)
    assert g_write.text == "write global TOTAL"
    # The attribute of the object the cell holds is found through the cell.
    attr = desc(inner, f, "STORE_ATTR", "value")
    assert attr.locs[0][0][:3] == ("a", id(inner.__closure__[0].cell_contents), "value")


def test_module_attributes_are_globals() -> None:
    def use_module() -> None:
        frames.append(sys._getframe())
        _ = os.sep

    f = run_and_keep_frame(use_module)
    acc = desc(use_module, f, "LOAD_ATTR", "sep")
    assert acc.locs == ((("i", id(os.__dict__), "sep"), False),)


# ---------------------------------------------------------------------------------- items


def items(d: Dict[str, int], lst: List[int]) -> None:
    frames.append(sys._getframe())
    d["k"] = d["k"] + 1
    lst[0] = 5


def test_dict_items_by_key_and_lists_as_a_whole() -> None:
    d: Dict[str, int] = {"k": 0}
    lst = [0]
    f = run_and_keep_frame(items, d, lst)
    read = A.describe(f, items.__code__, offset_of(items, "BINARY_SUBSCR"))
    write = desc(items, f, "STORE_SUBSCR", nth=0)
    assert read.locs == ((("i", id(d), "k"), False),)
    assert write.locs == ((("i", id(d), "k"), True),)
    assert write.text == "write dict['k']"
    lw = desc(items, f, "STORE_SUBSCR", nth=1)
    assert lw.locs == ((("k", id(lst)), True),)


# ---------------------------------------------------------------------------------- calls


def calls(c: Counter, lst: List[int], lock: Any) -> None:
    frames.append(sys._getframe())
    attr_rw(c)
    lst.append(1)
    len(lst)
    os.getpid()


def test_calls() -> None:
    c, lst, lock = Counter(), [0], threading.Lock()
    f = run_and_keep_frame(calls, c, lst, lock)
    call_offsets = [i.offset for i in dis.get_instructions(calls) if i.opname.startswith("CALL")
                    and i.opname not in ("CALL_INTRINSIC_1",)]
    user, append, length, opaque = [A.describe(f, calls.__code__, o) for o in call_offsets[-4:]]
    assert user.kind == "call" and user.locs == ()  # its body has switch points of its own
    assert append.kind == "call" and append.locs == ((("k", id(lst)), True),)
    assert append.text == "call list.append"
    assert length.locs == ((("k", id(lst)), False),)
    assert opaque.kind == "unknown" and opaque.locs == A.EVERYTHING  # cannot see into it


def test_properties_in_code_under_test_are_plain_reads() -> None:
    def read_prop(o: WithProperty) -> None:
        frames.append(sys._getframe())
        _ = o.v

    o = WithProperty()
    f = run_and_keep_frame(read_prop, o)
    acc = desc(read_prop, f, "LOAD_ATTR", "v")
    assert acc.locs == ((("a", id(o), "v"), False),)


def test_operators_on_numbers_touch_nothing_and_on_lists_read_them() -> None:
    def ops(x: int, lst: List[int]) -> None:
        frames.append(sys._getframe())
        _ = x + 1
        _ = 1 in lst

    lst = [1, 2]
    f = run_and_keep_frame(ops, 3, lst)
    plus = A.describe(f, ops.__code__, [i.offset for i in dis.get_instructions(ops)
                                        if i.opname in ("BINARY_OP", "BINARY_ADD")][0])
    assert plus.kind == "none" and plus.locs == ()
    contains = desc(ops, f, "CONTAINS_OP")
    assert contains.locs == ((("k", id(lst)), False),)


# ---------------------------------------------------------------------------------- sync ops


def test_sync_operations() -> None:
    from interleave.runtime.operation import Op, OpKind
    from interleave.sync.lock import Lock

    lk = Lock()
    acq = A.sync_access(Op(OpKind.ACQUIRE, lk, True))
    rel = A.sync_access(Op(OpKind.RELEASE, lk))
    assert acq.kind == rel.kind == "sync"
    assert acq.locs == rel.locs == ((("s", id(lk)), True),)
    assert acq.block == ("waits", lk) and rel.block is None
    assert acq.sync == ("acquire", lk) and rel.sync == ("release", lk)
    assert A.sync_access(Op(OpKind.SWITCH)).locs == ()
    assert A.sync_access(("mystery", None)).locs == A.EVERYTHING


def test_a_declared_operation_blocks_only_when_it_waits_until_woken() -> None:
    """The primitive says whether it would wait: a try-lock or a timed wait is never disabled."""
    from interleave.runtime.operation import Op, OpKind
    from interleave.sync.lock import Lock
    from interleave.sync.simplequeue import SimpleQueue

    lk, q = Lock(), SimpleQueue()
    assert A.sync_access(Op(OpKind.ACQUIRE, lk, False)).block is None
    assert A.sync_access(Op(OpKind.ACQUIRE, lk, True, 0.5)).block is None
    assert A.sync_access(Op(OpKind.GET, q, True)).block == ("waits", q)
    assert A.sync_access(Op(OpKind.GET, q, True, 1.0)).block is None
    assert A.sync_access(Op(OpKind.GET, q, False)).block is None
    assert A.sync_access(Op(OpKind.PUT, q)).block is None


def test_standard_library_objects_have_models() -> None:
    import queue

    ev = threading.Event()
    q: queue.Queue = queue.Queue()
    t = threading.Thread(target=len, args=((),))
    set_ = A.call_model(ev.set, [], {})
    assert set_.sync == ("set", ev) and (("o", id(ev)), True) in set_.locs
    wait = A.call_model(ev.wait, [], {})
    assert wait.block == ("event", ev)
    assert A.call_model(ev.wait, [1.0], {}).block is None  # a timed wait never blocks for ever
    get = A.call_model(q.get, [], {})
    assert get.block == ("qget", q) and get.sync == ("get", q)
    join = A.call_model(t.join, [], {})
    assert join.block == ("join", t)


# ---------------------------------------------------------------------------------- analysis


def loop_with_lock(c: Counter, lock: Any) -> None:
    for _ in range(3):
        with lock:
            c.value += 1


def test_analysis_follows_operands_through_loops_and_with_blocks() -> None:
    info = A.analyze(loop_with_lock.__code__)
    assert info.ok
    specs = info.specs
    for_iter = [s for s in specs.values() if s.op == "for_iter"]
    assert for_iter and for_iter[0].args[0] is not None  # the iterator's producer is known
    # The with-statement's exit call gets the __exit__ the set-up produced.
    exit_calls = [s for s in specs.values() if s.op == "call" and s.args and s.args[0] is not None
                  and s.args[0][0] == "x"]
    assert exit_calls
    stores = [s for s in specs.values() if s.op == "attr_w"]
    assert stores and stores[0].args[0] == ("f", "c")


def test_every_function_here_analyses() -> None:
    for fn in (attr_rw, items, calls, loop_with_lock, cell_and_global(), Counter.__init__):
        assert A.analyze(fn.__code__).ok


# ---------------------------------------------------------------------------------- in a run


def test_report_shows_reads_and_writes_with_values() -> None:
    def body() -> None:
        c = Counter()

        def work() -> None:
            c.value += 1

        ts = [threading.Thread(target=work) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert c.value == 2

    r = interleave.explore(body, strategy="dpor", executions=50)
    assert r.failure is not None
    report = r.failure.report
    assert "read Counter.value -> 0" in report
    assert "write Counter.value = 1" in report


@pytest.mark.parametrize("model", ["instruction"])
def test_tracker_memos_make_operands_exact(model: str) -> None:
    # A tracker keeps what each load produced, so a later store names the object it got then,
    # even if a global was rebound in between.
    tracker = A.AccessTracker(model=model)
    a, b = Counter(), Counter()
    holder = {"obj": a}

    def store(h: Dict[str, Counter]) -> None:
        frames.append(sys._getframe())
        h["obj"].value = 1

    f = run_and_keep_frame(store, holder)
    code = store.__code__
    load = offset_of(store, "BINARY_SUBSCR")
    acc = tracker.pick(f, code, load)
    tracker.executing(f, code, load, acc)  # produced: a
    holder["obj"] = b  # rebound afterwards
    st = tracker.pick(f, code, offset_of(store, "STORE_ATTR", "value"))
    assert st.obj is a


def test_a_cached_method_read_still_sees_each_instance() -> None:
    """A method read from its class (``t.start``) is cached per type: an instance that shadows
    the method with its own value, or another instance, still gets its own value or its own
    bound method."""
    from interleave.instrument.access.values import attr_value

    class Job:
        def run(self) -> int:
            return 1

    a, b = Job(), Job()
    first = attr_value(a, "run")  # the plan is cached here
    assert first.__func__ is Job.run and first.__self__ is a
    second = attr_value(b, "run")
    assert second.__func__ is Job.run and second.__self__ is b
    b.run = 7  # type: ignore[method-assign]
    assert attr_value(b, "run") == 7
    assert attr_value(a, "run").__self__ is a
