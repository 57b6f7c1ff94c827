"""Small generated concurrent programs, and their reachable outcomes under a strategy.

Used by the DPOR differential tests and benchmarks/bench_dpor.py: a program is 2-3 threads (the
body is thread 0 and starts the others) of a few operations on shared attributes, a dict item
and a global (reads, writes, ``+=``, locked sections, explicit acquire/release, a condition with
a waiter and a notifier, an event, a queue, sleeps and timed waits, try and timed lock
acquisitions). Its outcome is the final
shared state, the values each thread read, the exception (type and message) or deadlock.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple

from interleave.session import Session

_counter = itertools.count()
_dir: List[str] = []


def _gen_dir() -> str:
    if not _dir:
        d = tempfile.mkdtemp(prefix="interleave-dpor-")
        atexit.register(shutil.rmtree, d, True)
        _dir.append(d)
    return _dir[0]

#: One operation: a kind and its parameters; rendered to Python source by ``_render``.
Op = Tuple[Any, ...]

VARS = ("x", "y")


def _render(op: Op, tid: int) -> List[str]:
    kind = op[0]
    if kind == "read":
        return [f"seen.append(('t{tid}', S.{op[1]}))"]
    if kind == "write":
        return [f"S.{op[1]} = {op[2]}"]
    if kind == "incr":
        return [f"S.{op[1]} += 1"]
    if kind == "copy":  # read one, write another: the read value flows into a write
        return [f"S.{op[2]} = S.{op[1]} + 1"]
    if kind == "locked":
        return [f"with L{op[1]}:", f"    S.{op[2]} += 1"]
    if kind == "acqrel":
        return [f"L{op[1]}.acquire()", f"S.{op[2]} = S.{op[2]} * 2", f"L{op[1]}.release()"]
    if kind == "dict":
        return ["D['k'] = D.get('k', 0) + 1"]
    if kind == "global":
        return ["G += 1"]
    if kind == "check":  # an assertion that some interleavings violate
        return [f"if S.{op[1]} == {op[2]}:", f"    raise ValueError('{op[1]} was {op[2]}')"]
    if kind == "wait":
        return ["with C:", "    while not S.flag:", "        C.wait()", f"    seen.append(('t{tid}', 'woke'))"]
    if kind == "notify":
        return ["with C:", "    S.flag = 1", "    C.notify_all()"]
    if kind == "set":
        return ["E.set()"]
    if kind == "evwait":
        return ["E.wait()", f"seen.append(('t{tid}', 'e', S.x))"]
    if kind == "sleep":
        return [f"time.sleep({op[1]})", f"seen.append(('t{tid}', 'slept', S.x))"]
    if kind == "timedwait":  # an Event wait that may time out
        return [f"seen.append(('t{tid}', 'ev', E.wait({op[1]})))"]
    if kind == "timedget":  # a queue get that may time out
        return ["try:", f"    seen.append(('t{tid}', 'tq', Q.get(timeout={op[1]})))", "except queue.Empty:",
                f"    seen.append(('t{tid}', 'tq', None))"]
    if kind == "put":
        return [f"Q.put({op[1]})"]
    if kind in ("trylock", "timedlock"):  # an acquisition that gives up: the holder's order decides
        attempt = "blocking=False" if kind == "trylock" else "timeout=0.1"
        return [f"if L{op[1]}.acquire({attempt}):", f"    S.{op[2]} += 1", f"    L{op[1]}.release()", "else:",
                f"    seen.append(('t{tid}', 'busy'))"]
    if kind == "timedcwait":  # woken by a notify, or timed out
        return ["with C:", f"    seen.append(('t{tid}', 'cw', C.wait(0.1), S.flag))"]
    # Ways of reaching state the access model must not miss (docs/dpor.md, "what is modelled"):
    if kind == "dictattr":  # the instance dict is the attributes
        return [f"S.__dict__['{op[1]}'] = S.__dict__['{op[1]}'] + 1"]
    if kind == "vars":
        return ["d = vars(S)", f"seen.append(('t{tid}', 'v', d['{op[1]}']))"]
    if kind == "setattr":  # computed attribute names
        return [f"nm = ''.join(['{op[1]}'])", "setattr(S, nm, getattr(S, nm) + 1)"]
    if kind == "exec":  # exec'd code under test, on a namespace shared through S
        return ["exec(EXEC_INCR, {'S': S})"]
    if kind == "eval":
        return [f"seen.append(('t{tid}', 'e', eval(EVAL_READ, {{'S': S}})))"]
    if kind == "gensend":  # a read-modify-write across a yield, finished by send()
        return ["g = gen_add(S)", "next(g)", "try:", "    g.send(1)", "except StopIteration:", "    pass"]
    if kind == "genthrow":  # the write happens in the handler of an exception thrown in
        return ["g = gen_bump(S)", "next(g)", "try:", "    g.throw(Bump)", "except StopIteration:", "    pass"]
    if kind == "prop":  # a property over x
        return ["S.px = S.px + 1"]
    if kind == "descr":  # a data descriptor storing in the instance dict
        return ["S.dy = S.dy + 1"]
    if kind == "slots":
        return ["P.a += 1"]
    if kind == "ddict":
        return ["DD['k'] += 1"]
    if kind == "dview":  # dict views and iteration
        return [f"seen.append(('t{tid}', 'dv', sorted(DD.items()), 'k' in DD.keys(), len(D.values())))"]
    if kind == "diter":
        return [f"seen.append(('t{tid}', 'di', [k for k in D]))"]
    if kind == "dput":
        return [f"D['k{tid}'] = {tid}"]
    if kind == "nested":  # a container inside a container
        return ["N['l'].append(len(N['l']))"]
    if kind == "nestedread":
        return [f"seen.append(('t{tid}', 'n', list(N['l'])))"]
    if kind == "get":
        return [f"seen.append(('t{tid}', 'q', Q.get()))"]
    # Calls that call code under test back, and values that flow out of calls (docs/dpor.md,
    # "Calls in progress"): a wrong model here loses an outcome.
    if kind == "ret":  # what a method returned (a shared object) is written through
        return ["S.box().n += 1"]
    if kind == "ctor":  # an iterator class built in the loop header walks a shared list
        return ["for v in Walk(N['l']):", f"    seen.append(('t{tid}', 'w', v))"]
    if kind == "resub":  # the replacement function reads shared state
        return [f"seen.append(('t{tid}', 're', re.sub('a', lambda m: m.group(0) + str(S.x), 'aa')))"]
    if kind == "reduce":
        return [f"seen.append(('t{tid}', 'rd', functools.reduce(lambda a, v: a + v + S.y, N['l'], 0)))"]
    if kind == "mapl":
        return [f"seen.append(('t{tid}', 'm', list(map(lambda v: v + S.x, N['l']))))"]
    if kind == "genany":
        return [f"seen.append(('t{tid}', 'any', any(v >= S.x for v in N['l'])))"]
    if kind == "enum":
        return ["for i, v in enumerate(N['l']):", "    S.y = S.y + v"]
    if kind == "chain":
        return [f"seen.append(('t{tid}', 'ch', list(itertools.chain(N['l'], [S.x]))))"]
    if kind == "filt":
        return [f"seen.append(('t{tid}', 'f', list(filter(lambda v: S.x, N['l']))))"]
    if kind == "local":  # a threading.local subclass whose method reads shared state
        return ["LOC.n = S.y", f"seen.append(('t{tid}', 'loc', LOC.get(S)))"]
    if kind == "boxw":  # the shared object the other operations reach through calls
        return ["S.bx.n = S.bx.n + 2"]
    raise ValueError(kind)


def source(threads: Sequence[Sequence[Op]]) -> str:
    """Python source of a body running ``threads`` (each a list of operations)."""
    lines = [
        "import threading, queue, time, re, functools, itertools",
        "from collections import defaultdict",
        "G = 0",
        "class Bump(Exception):",
        "    pass",
        "class Stored:",
        "    def __set_name__(self, owner, name):",
        "        self.key = '_' + name",
        "    def __get__(self, obj, tp=None):",
        "        return obj.__dict__.get(self.key, 0)",
        "    def __set__(self, obj, value):",
        "        obj.__dict__[self.key] = value",
        "class Box:",
        "    def __init__(self):",
        "        self.n = 0",
        "class Walk:",
        "    def __init__(self, lst):",
        "        self.lst = lst",
        "        self.i = 0",
        "    def __iter__(self):",
        "        return self",
        "    def __next__(self):",
        "        if self.i >= len(self.lst):",
        "            raise StopIteration",
        "        self.i += 1",
        "        return self.lst[self.i - 1]",
        "class Loc(threading.local):",
        "    def __init__(self):",
        "        self.n = -1",
        "    def get(self, s):",
        "        return self.n + s.x",
        "class Shared:",
        "    dy = Stored()",
        "    def __init__(self):",
        "        self.x = 0",
        "        self.y = 0",
        "        self.flag = 0",
        "        self.bx = Box()",
        "    def box(self):",
        "        return self.bx",
        "    @property",
        "    def px(self):",
        "        return self.x",
        "    @px.setter",
        "    def px(self, v):",
        "        self.x = v",
        "class Slotted:",
        "    __slots__ = ('a',)",
        "    def __init__(self):",
        "        self.a = 0",
        "def gen_add(s):",
        "    v = s.x",
        "    got = yield",
        "    s.x = v + got",
        "def gen_bump(s):",
        "    try:",
        "        yield",
        "    except Bump:",
        "        s.y = s.y + 1",
        "EXEC_INCR = compile('S.x = S.x + 1', __file__, 'exec')",
        "EVAL_READ = compile('S.x', __file__, 'eval')",
        "def body(record):",
        "    global G",
        "    G = 0",
        "    S = Shared()",
        "    LOC = Loc()",
        "    D = {}",
        "    L0 = threading.Lock()",
        "    L1 = threading.Lock()",
        "    C = threading.Condition()",
        "    E = threading.Event()",
        "    Q = queue.Queue()",
        "    P = Slotted()",
        "    DD = defaultdict(int)",
        "    N = {'l': []}",
        "    seen = []",
    ]
    # Thread 0 is the body itself: it starts the others, runs its operations, joins. Fewer
    # switch points in the body keep unbounded exhaustive search (the ground truth) feasible.
    for tid, ops in enumerate(threads):
        if tid == 0:
            continue
        lines.append(f"    def t{tid}():")
        body: List[str] = ["global G"]
        for op in ops:
            body += _render(op, tid)
        lines += ["        " + b for b in body]
    others = list(range(1, len(threads)))
    for tid in others:
        lines.append(f"    T{tid} = threading.Thread(target=t{tid})")
    for tid in others:
        lines.append(f"    T{tid}.start()")
    for op in threads[0]:
        lines += ["    " + b for b in _render(op, 0)]
    for tid in others:
        lines.append(f"    T{tid}.join()")
    lines.append("    record.append((S.x, S.y, D.get('k'), G, tuple(sorted(map(repr, seen))), S.dy, P.a, "
                 "DD.get('k'), tuple(N['l']), tuple(sorted(D.items())), S.bx.n))")
    return "\n".join(lines) + "\n"


def make_body(threads: Sequence[Sequence[Op]]) -> Tuple[Callable[[], None], List[Any], str]:
    """Compile a program; returns the body, the list it appends its final state to, the source."""
    src = source(threads)
    # A real file: generated "<...>" code is not code under test, and reports can show lines.
    path = os.path.join(_gen_dir(), f"dpor_generated_{os.getpid()}_{next(_counter)}.py")
    with open(path, "w") as f:
        f.write(src)
    ns: Dict[str, Any] = {"__name__": "dpor_generated", "__file__": path}
    exec(compile(src, path, "exec"), ns)
    record: List[Any] = []
    inner = ns["body"]

    def body() -> None:
        inner(record)

    body.__qualname__ = "generated_body"
    return body, record, src


Outcome = Tuple[Any, ...]


def outcomes(body: Callable[[], None], record: List[Any], strategy: Any, limit: int,
             max_steps: int = 20_000, timeouts: str = "anytime") -> Tuple[FrozenSet[Outcome], int, bool]:
    """Run ``strategy`` until it is exhausted or ``limit`` executions; the set of outcomes seen."""
    seen: set = set()
    n = 0
    with Session(body, model="instruction", max_steps=max_steps, timeouts=timeouts) as session:
        while n < limit and not strategy.exhausted():
            record.clear()
            out = session.run_once(strategy, 1)
            strategy.end_execution(out)
            n += 1
            if out.kind == "passed":
                seen.add(("passed", record[-1] if record else None))
            elif out.kind == "exception":
                e = out.exception
                seen.add(("exception", type(e).__name__, str(e)))
            elif out.kind == "deadlock":
                seen.add(("deadlock",))
            else:
                seen.add((out.kind, out.detail))
    return frozenset(seen), n, strategy.exhausted()


def describe(threads: Sequence[Sequence[Op]]) -> str:
    """A readable listing of a generated program."""
    return source(threads)


#: Operations that reach state through the harder paths: instance dicts, computed names, exec and
#: eval, generators resumed with send/throw, properties and descriptors, slots, defaultdict, dict
#: views and iteration, nested containers.
EXTENDED = ("dictattr", "vars", "setattr", "exec", "eval", "gensend", "genthrow", "prop", "descr", "slots",
            "ddict", "dview", "diter", "dput", "nested", "nestedread")

#: Operations whose accesses happen inside callbacks of C or library calls, or reach objects
#: through what a call returned: ``re.sub`` with a function, ``functools.reduce``, ``map``,
#: ``filter``, ``enumerate``, ``itertools.chain``, ``any`` of a generator, an iterator class, a
#: method returning a shared object, a ``threading.local`` subclass's method; with writes of
#: what they read.
CALLBACKS = ("ret", "ctor", "resub", "reduce", "mapl", "genany", "enum", "chain", "filt", "local", "boxw",
             "nested", "write", "incr")


def strategy_ops(st: Any, max_threads: int = 3, max_ops: int = 3,
                 kinds: Optional[Sequence[str]] = None) -> Any:
    """A Hypothesis strategy of programs (lists of per-thread operation lists)."""
    v = st.sampled_from(VARS)
    lock = st.sampled_from((0, 1))
    small = st.integers(0, 2)
    allowed = set(kinds or ("read", "write", "incr", "copy", "locked", "acqrel", "dict", "global",
                            "check", "wait", "notify", "set", "evwait", "put", "get", "sleep", "timedwait",
                            "timedget", "trylock", "timedlock", "timedcwait"))
    choices = []
    if "read" in allowed:
        choices.append(st.tuples(st.just("read"), v))
    if "write" in allowed:
        choices.append(st.tuples(st.just("write"), v, small))
    if "incr" in allowed:
        choices.append(st.tuples(st.just("incr"), v))
    if "copy" in allowed:
        choices.append(st.tuples(st.just("copy"), v, v))
    if "locked" in allowed:
        choices.append(st.tuples(st.just("locked"), lock, v))
    for k in ("acqrel", "trylock", "timedlock"):
        if k in allowed:
            choices.append(st.tuples(st.just(k), lock, v))
    if "dict" in allowed:
        choices.append(st.tuples(st.just("dict")))
    if "global" in allowed:
        choices.append(st.tuples(st.just("global")))
    if "check" in allowed:
        choices.append(st.tuples(st.just("check"), v, st.integers(1, 2)))
    for k in ("wait", "notify", "set", "evwait", "get", "timedcwait"):
        if k in allowed:
            choices.append(st.tuples(st.just(k)))
    if "put" in allowed:
        choices.append(st.tuples(st.just("put"), small))
    secs = st.sampled_from((0.1, 0.2))
    for k in ("sleep", "timedwait", "timedget"):
        if k in allowed:
            choices.append(st.tuples(st.just(k), secs))
    for k in ("dictattr", "vars", "setattr"):
        if k in allowed:
            choices.append(st.tuples(st.just(k), v))
    for k in EXTENDED + CALLBACKS:
        if k in allowed and k not in ("dictattr", "vars", "setattr", "write", "incr"):
            choices.append(st.tuples(st.just(k)))
    op = st.one_of(*choices)
    return st.lists(st.lists(op, min_size=1, max_size=max_ops), min_size=2, max_size=max_threads)
