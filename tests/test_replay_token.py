"""Replay tokens: exact reproduction, divergence on tampering, clear errors, determinism."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import textwrap
import threading
from typing import Any, List, Tuple

import pytest
from runtime_helpers import run_threads

import interleave
from interleave.token import Schedule, decode, encode


class Counter:
    """The lost-update counter of the README."""

    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> None:
        self.value += 1

    def __repr__(self) -> str:  # pytest puts it in the assertion message: no address in there
        return f"Counter({self.value})"


def lost_update() -> None:
    c = Counter()
    ts = [threading.Thread(target=c.increment) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.value == 2


def guarded_transfer() -> None:
    """A longer program with locks, a condition and a sleep: more kinds of events to replay."""
    lock = threading.Lock()
    cond = threading.Condition(lock)
    accounts = {"a": 10, "b": 0}

    def move(src: str, dst: str, amount: int) -> None:
        with cond:
            while accounts[src] < amount:
                cond.wait()
            accounts[src] -= amount
            accounts[dst] += amount
            cond.notify_all()

    def unsafe_audit() -> None:
        total = accounts["a"]
        total += accounts["b"]  # reads without the lock: may see money in flight
        assert total == 10, total

    ts = [threading.Thread(target=move, args=("a", "b", 4)),
          threading.Thread(target=move, args=("b", "a", 2)),
          threading.Thread(target=unsafe_audit)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


_HEADER_TIMING = re.compile(r"^\s*found by .*$", re.MULTILINE)


def without_timing(report: str) -> str:
    """The report minus the header line that says who found it and how long it took."""
    return _HEADER_TIMING.sub("", report)


@pytest.mark.parametrize("body", [lost_update, guarded_transfer])
def test_replay_reproduces_the_report_byte_for_byte(body: Any) -> None:
    found = interleave.explore(body, executions=2000, seed=7)
    assert found.failure is not None, found.verdict
    first = interleave.replay(body, found.failure.token)
    second = interleave.replay(body, found.failure.token)
    assert first.failure is not None and second.failure is not None
    assert first.failure.kind == found.failure.kind
    assert without_timing(first.failure.report) == without_timing(found.failure.report)
    assert without_timing(second.failure.report) == without_timing(first.failure.report)
    assert first.failure.token == found.failure.token
    assert [dataclasses.astuple(e) for e in first.failure.trace] == \
        [dataclasses.astuple(e) for e in found.failure.trace]


def test_replay_of_a_passing_schedule_is_a_pass_not_a_failure() -> None:
    def body() -> None:
        c = Counter()
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

    found = interleave.explore(lost_update, executions=2000, seed=1)
    assert found.failure is not None
    # The same number of threads, different steps: the token no longer fits this program.
    replayed = interleave.replay(body, found.failure.token)
    assert replayed.failure is not None and replayed.failure.kind == "divergence"


def _tampered(token: str, edit: Any) -> str:
    s = decode(token)
    return encode(dataclasses.replace(s, runs=tuple(edit(list(s.runs)))))


def test_tampered_schedule_is_reported_as_divergence() -> None:
    found = interleave.explore(lost_update, executions=2000, seed=3)
    assert found.failure is not None
    token = found.failure.token
    runs = decode(token).runs
    assert len(runs) >= 2

    def ghost_thread(rs: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
        return [rs[0], (9, rs[1][1])] + rs[2:]

    def truncated(rs: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
        return rs[:1]

    for edit in (ghost_thread, truncated):
        result = interleave.replay(lost_update, _tampered(token, edit))
        assert result.failure is not None, edit.__name__
        assert result.failure.kind == "divergence", result.failure.report
        assert "Divergence" in result.failure.report
        assert result.verdict.startswith("FAILED")


def test_token_with_a_flipped_character_is_rejected() -> None:
    found = interleave.explore(lost_update, executions=2000, seed=3)
    assert found.failure is not None
    token = found.failure.token
    i = len(token) // 2
    bad = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
    with pytest.raises(interleave.TokenError, match="damaged"):
        interleave.replay(lost_update, bad)


@pytest.mark.parametrize(
    "token, message",
    [
        ("", "not a replay token"),
        ("hello", "not a replay token"),
        ("il9_AAAA", "version"),
        ("il1_", "damaged"),
        ("il1_!!!notbase64!!!", "damaged"),
        ("il1_AAAAAAAAAAAA", "damaged"),
    ],
)
def test_malformed_token_is_rejected_with_a_clear_message(token: str, message: str) -> None:
    with pytest.raises(interleave.TokenError, match=message):
        interleave.replay(lost_update, token)


def test_non_string_token_is_rejected() -> None:
    with pytest.raises(interleave.TokenError):
        interleave.replay(lost_update, 12345)  # type: ignore[arg-type]


def test_token_from_another_python_minor_version_is_refused() -> None:
    found = interleave.explore(lost_update, executions=2000, seed=3)
    assert found.failure is not None
    s = decode(found.failure.token)
    other = (3, sys.version_info[1] - 1 if sys.version_info[1] > 9 else 13)
    foreign = encode(dataclasses.replace(s, python=other))
    with pytest.raises(interleave.TokenError) as info:
        interleave.replay(lost_update, foreign)
    msg = str(info.value)
    assert f"{other[0]}.{other[1]}" in msg
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" in msg


def test_same_seed_explores_the_same_executions_in_the_same_order() -> None:
    def run(seed: int) -> List[Tuple[Any, ...]]:
        history: List[Tuple[Any, ...]] = []

        def body() -> None:
            order: List[str] = []
            lock = threading.Lock()

            def worker(name: str) -> None:
                for i in range(2):
                    with lock:
                        order.append(f"{name}{i}")

            ts = [threading.Thread(target=worker, args=(n,)) for n in "abc"]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            history.append((tuple(order), tuple(t.ident for t in ts), threading.current_thread().name))

        result = interleave.explore(body, executions=300, seed=seed)
        assert result.failure is None
        return history

    a, b = run(11), run(11)
    assert a == b
    assert len(set(h[0] for h in a)) > 5, "the executions should differ from each other"
    assert run(12) != a


def test_same_seed_finds_the_same_failure_token() -> None:
    tokens = {interleave.explore(guarded_transfer, executions=2000, seed=5).failure.token for _ in range(3)}
    assert len(tokens) == 1


def test_random_is_reseeded_per_execution_and_restored_afterwards() -> None:
    import random

    draws: List[float] = []

    def body() -> None:
        draws.append(random.random())

    random.seed(1234)
    state = random.getstate()
    interleave.explore(body, executions=10, seed=2)
    assert random.getstate() == state
    again: List[float] = list(draws)
    draws.clear()
    interleave.explore(body, executions=10, seed=2)
    assert draws == again
    assert len(set(draws)) == 10


@pytest.mark.timeout(120)
def test_replay_under_another_hash_seed_names_the_cause(tmp_path: Any) -> None:
    """Thread start order follows set iteration order, which PYTHONHASHSEED changes."""
    script = tmp_path / "hashy.py"
    script.write_text(textwrap.dedent(
        """
        import sys, threading, interleave

        def body():
            names = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta"}
            log = []
            def work(name):
                for _ in range(len(name)):
                    log.append(name)
            ts = [threading.Thread(target=work, args=(n,)) for n in names]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            assert log[0] != "zeta"

        if sys.argv[1] == "find":
            r = interleave.explore(body, executions=3000, seed=1)
            print(r.failure.token)
        else:
            r = interleave.replay(body, sys.argv[2])
            print(r.failure.kind if r.failure else "passed")
            print(r.failure.report if r.failure else "")
        """
    ))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [os.path.dirname(os.path.dirname(interleave.__file__)),
                                                    env.get("PYTHONPATH", "")] if p)

    def run(hash_seed: str, *args: str) -> str:
        env["PYTHONHASHSEED"] = hash_seed
        proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                              timeout=100, env=env)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    token = run("1", "find").strip().splitlines()[-1]
    assert decode(token).hash_seed == "1"
    same = run("1", "replay", token)
    assert same.splitlines()[0] == "exception"
    diverged = [run(seed, "replay", token) for seed in ("2", "3", "4")]
    named = [out for out in diverged if out.splitlines()[0] == "divergence"]
    assert named, diverged
    for out in named:
        assert "PYTHONHASHSEED=1" in out


def test_no_garbage_collection_inside_an_execution() -> None:
    """Finalizers of cyclic garbage run between executions, never at a point of a schedule."""
    during: List[str] = []
    collected: List[int] = []
    state = {"inside": False}

    class Cyclic:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            collected.append(1)
            if state["inside"]:
                during.append(threading.current_thread().name)

    def body() -> None:
        state["inside"] = True
        for _ in range(3000):  # far beyond the collector's first threshold
            Cyclic()
        t = threading.Thread(target=lambda: [Cyclic() for _ in range(1000)])
        t.start()
        t.join()
        state["inside"] = False

    import gc

    enabled = gc.isenabled()
    interleave.explore(body, executions=5, seed=1)
    assert gc.isenabled() == enabled
    gc.collect()
    assert not during
    assert len(collected) >= 5 * 4000


def _pack(body: bytes) -> str:
    """A token around ``body``, as the format defines it (zlib, CRC-32, base64url)."""
    import base64
    import zlib

    packed = zlib.compress(body, 9)
    raw = packed + zlib.crc32(packed).to_bytes(4, "big")
    return "il1_" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def test_token_records_whether_a_lone_threads_points_were_counted() -> None:
    for lone in (False, True):
        s = decode(encode(Schedule(((0, 3), (1, 2)), lone_points=lone)))
        assert s.lone_points is lone and s.runs == ((0, 3), (1, 2))
    # DPOR counts a lone thread's switch points; its tokens say so, and replay follows. Shrunk,
    # the schedule is re-found by a strategy that does not count them, and says that instead.
    for shrink in (False, True):
        found = interleave.explore(lost_update, strategy="dpor", executions=200, shrink=shrink)
        assert found.failure is not None and decode(found.failure.token).lone_points is not shrink
        assert interleave.replay(lost_update, found.failure.token).failure.kind == "exception"


def test_format_1_tokens_still_decode_with_lone_points_counted() -> None:
    major, minor = sys.version_info[:2]
    # format 1: version, Python, model, hash seed, random seed, runs (no flags byte)
    s = decode(_pack(bytes([1, major, minor, 0, 0, 7, 2, 0, 3, 1, 2])))
    assert s.lone_points and s.random_seed == 7 and s.runs == ((0, 3), (1, 2))
    with pytest.raises(interleave.TokenError, match="damaged"):
        decode(_pack(bytes([2, major, minor, 0, 0x80, 0, 7, 0])))  # an unknown flag


def test_a_step_limit_found_under_another_max_steps_replays_from_the_token_alone() -> None:
    # The token keeps a step limit that is not the default, and replay uses it: the report's
    # Reproduce line (which passes no max_steps) diverged before session 14.
    assert decode(encode(Schedule(((0, 3),), max_steps=3000))).max_steps == 3000
    assert decode(encode(Schedule(((0, 3),)))).max_steps is None

    def body() -> None:
        box = {"x": 0}

        def work() -> None:
            for _ in range(5000):  # long but finite
                box["x"] += 1

        t = threading.Thread(target=work)
        t.start()
        box["y"] = 1
        t.join()

    found = interleave.explore(body, executions=3, seed=1, max_steps=3000)
    assert found.failure is not None and found.failure.kind == "step-limit", found.verdict
    assert decode(found.failure.token).max_steps == 3000
    again = interleave.replay(body, found.failure.token)
    assert again.failure is not None and again.failure.kind == "step-limit", again.verdict
    # Asked for more steps, the same schedule runs on and ends: the limit is the user's to set.
    longer = interleave.replay(body, found.failure.token, max_steps=100_000)
    assert longer.failure is None or longer.failure.kind != "step-limit", longer.verdict


def test_a_replay_that_passes_under_another_hash_seed_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """A schedule followed to the end without the failure, recorded under another PYTHONHASHSEED:
    the failure may have come from the order of a set of strings, and the result says how to check."""
    box = {"fail": True}

    def body() -> None:
        data = [0]

        def inc() -> None:
            data[0] += 1

        run_threads(inc, inc)
        assert not box["fail"] or data[0] == 2

    found = interleave.explore(body, executions=500, seed=1)
    assert found.failure is not None
    box["fail"] = False  # the replay follows the same schedule and passes, as a hash-dependent failure would
    monkeypatch.setenv("PYTHONHASHSEED", "2")
    token = encode(dataclasses.replace(decode(found.failure.token), hash_seed="1"))
    other = interleave.replay(body, token)
    assert other.failure is None and other.stop_reason == "replayed"
    assert len(other.warnings) == 1 and "PYTHONHASHSEED=1" in other.warnings[0], other.warnings
    assert "PYTHONHASHSEED=2" in other.warnings[0]
    same = interleave.replay(body, encode(dataclasses.replace(decode(found.failure.token), hash_seed="2")))
    assert same.failure is None and same.warnings == []
