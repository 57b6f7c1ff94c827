"""Switch points: memory models, which code is instrumented, both tracing back-ends."""

from __future__ import annotations

import os
import sys
import textwrap
import threading
from typing import Any, Callable, List

import pytest
import racy_helper
from runtime_helpers import assert_finds, assert_passes

import interleave

PY = sys.version_info[:2]
BACKENDS = ["settrace"] + (["monitoring"] if PY >= (3, 12) else [])
HELPER = racy_helper.__file__


def two_increments(method: str) -> Callable[[], None]:
    def body() -> None:
        c = racy_helper.Counter()
        ts = [threading.Thread(target=getattr(c, method)) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert c.value == 2

    return body


def exhaust(body: Callable[[], None], **kw: Any) -> interleave.Result:
    """Cover every schedule (the programs here are small): a pass is then a proof."""
    result = interleave.explore(body, strategy="exhaustive", executions=20_000, **kw)
    return result


# ----------------------------------------------------------------------------- memory models
@pytest.mark.parametrize("backend", BACKENDS)
def test_instruction_model_splits_plus_equals(backend: str) -> None:
    failure = assert_finds(two_increments("increment"), model="instruction", backend=backend)
    trace = interleave.replay(two_increments("increment"), failure.token,
                              backend=backend).failure.trace  # type: ignore[union-attr]
    inside = [e for e in trace if e.filename == HELPER and e.function == "increment"]
    # both threads stopped inside the one-line method: it was split
    assert len({e.tid for e in inside}) == 2
    assert any(e.preempted_before for e in inside)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gil_model_matches_this_interpreter_on_plus_equals(backend: str) -> None:
    result = exhaust(two_increments("increment"), model="gil", backend=backend)
    # The eval loop cannot hand the GIL over between the load and the store: no lost update.
    assert result.failure is None and result.exhausted, result.verdict


@pytest.mark.parametrize("backend", BACKENDS)
def test_gil_model_finds_the_race_across_a_call(backend: str) -> None:
    result = exhaust(two_increments("increment_with_call"), model="gil", backend=backend)
    assert result.failure is not None and result.failure.kind == "exception", result.verdict
    assert "gil model" in result.failure.report


def test_models_are_validated() -> None:
    with pytest.raises(interleave.OptionError, match="model"):
        interleave.explore(two_increments("increment"), model="sequential")


@pytest.mark.parametrize("value", ["no", 0, None])
def test_shrink_must_be_a_bool(value: object) -> None:
    """``shrink="no"`` is truthy: taken as given it would shrink, the opposite of what was asked."""
    with pytest.raises(interleave.OptionError, match=f"shrink must be True or False; got {value!r}"):
        interleave.explore(two_increments("increment"), shrink=value)  # type: ignore[arg-type]


# --------------------------------------------------------------------- include and exclude
def test_excluded_module_has_no_switch_points_inside() -> None:
    result = exhaust(two_increments("increment"), exclude=["racy_helper"])
    assert result.failure is None and result.exhausted, result.verdict
    result = exhaust(two_increments("increment"), exclude=[HELPER])
    assert result.failure is None and result.exhausted, result.verdict


def test_explicit_switch_counts_even_in_excluded_code() -> None:
    def body() -> None:
        box = racy_helper.Counter()

        def inc() -> None:
            v = box.value
            interleave.switch()
            box.value = v + 1

        ts = [threading.Thread(target=inc) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert box.value == 2

    result = exhaust(body, exclude=[__file__], instrument=[HELPER])
    assert result.failure is not None


@pytest.fixture
def site_packages_module(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A module that lives under a site-packages directory: not code under test by default."""
    root = tmp_path / "site-packages"
    root.mkdir()
    (root / "vendored_racy.py").write_text(textwrap.dedent(
        """
        class Counter:
            def __init__(self):
                self.value = 0

            def increment(self):
                self.value += 1
        """
    ))
    monkeypatch.syspath_prepend(str(root))
    import importlib

    mod = importlib.import_module("vendored_racy")
    yield mod
    sys.modules.pop("vendored_racy", None)


def test_instrument_adds_a_module_that_is_excluded_by_default(site_packages_module: Any) -> None:
    def body() -> None:
        c = site_packages_module.Counter()
        ts = [threading.Thread(target=c.increment) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert c.value == 2

    result = exhaust(body)
    assert result.failure is None and result.exhausted, result.verdict
    result = exhaust(body, instrument=["vendored_racy"])
    assert result.failure is not None and result.failure.kind == "exception"
    result = exhaust(body, instrument=[site_packages_module.__file__])
    assert result.failure is not None


def test_unknown_instrument_target_is_an_error() -> None:
    with pytest.raises(ValueError, match="no_such_module_xyz"):
        interleave.explore(two_increments("increment"), instrument=["no_such_module_xyz"])


@pytest.mark.skipif(sys.version_info < (3, 11), reason="os is frozen from 3.11")
def test_a_frozen_module_is_named_as_frozen_with_the_name_that_instruments_it() -> None:
    with pytest.raises(ValueError, match=r"cannot instrument 'os': it is frozen into the interpreter.*"
                                         r"instrument=\['<frozen os>'\]"):
        interleave.explore(two_increments("increment"), instrument=["os"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_body_in_an_excluded_module_raises_instrumentation_error(backend: str) -> None:
    with pytest.raises(interleave.InstrumentationError, match="no switch point"):
        interleave.explore(two_increments("increment"), exclude=[__file__, HELPER], backend=backend)


def test_tracing_taken_over_by_the_body_is_reported() -> None:
    def body() -> None:
        sys.settrace(None)  # as a debugger or coverage tool replacing interleave's tracer would
        box = racy_helper.Counter()
        box.increment()

    old = sys.gettrace()
    try:
        with pytest.raises(interleave.InstrumentationError):
            interleave.explore(body, executions=5, backend="settrace")
    finally:
        sys.settrace(old)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_trace_hook_set_by_the_body_never_gives_a_false_pass(backend: str) -> None:
    """threading.settrace in the body: threading sets the hook in each thread the run starts.

    Under the settrace back-end that took the trace function from the new thread, whose race
    then went unseen: on 3.10-3.11 every execution passed (a false green). Now the call is
    refused and the exploration has no verdict; under monitoring the hook is the program's and
    the race is found. Either way the caller's trace function is as before afterwards.
    """
    hook_calls: List[str] = []

    def hook(frame: Any, event: str, arg: Any) -> None:
        hook_calls.append(event)

    def body() -> None:
        threading.settrace(hook)
        try:
            box = racy_helper.Counter()
            ts = [threading.Thread(target=box.increment) for _ in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            assert box.value == 2
        finally:
            threading.settrace(None)  # type: ignore[arg-type]

    old = sys.gettrace()
    if backend == "settrace":
        with pytest.raises(interleave.InstrumentationError, match="called sys.settrace at .*threading"):
            interleave.explore(body, executions=50, seed=0, backend=backend)
    else:
        r = interleave.explore(body, executions=50, seed=0, backend=backend)
        assert r.failure is not None and hook_calls
    assert sys.gettrace() is old


def test_backend_option_is_validated() -> None:
    with pytest.raises(interleave.OptionError):
        interleave.explore(two_increments("increment"), backend="ptrace")
    if PY < (3, 12):
        with pytest.raises(interleave.OptionError, match="3.12"):
            interleave.explore(two_increments("increment"), backend="monitoring")


# --------------------------------------------------------------------- visible instructions
@pytest.mark.parametrize("backend", BACKENDS)
def test_frame_local_instructions_are_not_switch_points(backend: str) -> None:
    def body() -> None:
        shared: List[int] = []

        def worker() -> None:
            a = 1
            b = a  # only the frame's own slots: never a switch point
            shared.append(b)

        ts = [threading.Thread(target=worker) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert len(shared) == 1  # wrong on purpose: fails in every schedule

    failure = assert_finds(body, backend=backend, executions=10)
    trace = interleave.replay(body, failure.token, backend=backend).failure.trace  # type: ignore[union-attr]
    lines = {e.lineno for e in trace if e.filename == __file__}
    assert lines
    with open(__file__) as f:
        src_lines = f.read().splitlines()
    texts = {src_lines[n - 1].strip() for n in lines}
    assert "b = a  # only the frame's own slots: never a switch point" not in texts
    assert "a = 1" not in texts
    assert "shared.append(b)" in texts


@pytest.mark.parametrize("backend", BACKENDS)
def test_both_backends_find_and_pass_the_same_programs(backend: str) -> None:
    assert_finds(two_increments("increment"), backend=backend)

    def locked() -> None:
        c = racy_helper.Counter()
        lock = threading.Lock()

        def inc() -> None:
            with lock:
                c.increment()

        ts = [threading.Thread(target=inc) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert c.value == 2

    assert_passes(locked, backend=backend, executions=1000)


@pytest.mark.skipif(PY < (3, 12), reason="sys.monitoring is 3.12+")
def test_monitoring_and_settrace_take_the_same_schedules() -> None:
    """The switch points are the same instructions under both back-ends."""
    tokens = {backend: interleave.explore(two_increments("increment"), executions=2000, seed=4,
                                          backend=backend).failure.token for backend in BACKENDS}
    assert tokens["monitoring"] == tokens["settrace"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_first_call_of_a_code_object_is_instrumented_like_the_rest(backend: str, tmp_path: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Code never run before gets its switch points on its very first call (3.12/3.13 settrace)."""
    (tmp_path / "fresh_code.py").write_text(textwrap.dedent(
        """
        import threading

        def body():
            box = [0]
            def inc():
                v = box[0]
                box[0] = v + 1
            ts = [threading.Thread(target=inc) for _ in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            assert box[0] == 3  # fails in every schedule: the first execution is the one reported
        """
    ))
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    mod = importlib.import_module("fresh_code")
    try:
        found = interleave.explore(mod.body, executions=1, seed=0, backend=backend, shrink=False)
        assert found.failure is not None and found.failure.kind == "exception"
        assert found.failure.reproducible, found.failure.report
        again = interleave.replay(mod.body, found.failure.token, backend=backend)
        assert again.failure is not None and again.failure.kind == "exception", again.failure
        assert [e.lineno for e in again.failure.trace] == [e.lineno for e in found.failure.trace]
        assert any(e.function == "inc" for e in found.failure.trace)
    finally:
        sys.modules.pop("fresh_code", None)


def test_a_package_that_does_not_import_and_a_script_run_as_main_are_named_clearly(tmp_path: Any) -> None:
    """A dotted name whose parent is missing is an error naming it (importlib's bare message said
    nothing of the option), and "__main__" names the script being run (it has no spec to find)."""
    import subprocess

    with pytest.raises(ValueError, match=r"cannot instrument 'no_such_pkg_xyz\.sub': No module named 'no_su"):
        interleave.explore(two_increments("increment"), instrument=["no_such_pkg_xyz.sub"])
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""
        import threading, interleave

        def body():
            box = [0]
            def inc():
                box[0] += 1
            ts = [threading.Thread(target=inc) for _ in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            assert box[0] == 2

        print(interleave.explore(body, executions=50, seed=0, instrument=["__main__"]).failure.kind)
        try:
            interleave.explore(body, executions=50, seed=0, exclude=["__main__"])
        except interleave.InstrumentationError:
            print("excluded")
    """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=100, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["exception", "excluded"], proc.stdout
