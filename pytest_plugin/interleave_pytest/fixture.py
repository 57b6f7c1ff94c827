"""Running explorations for a test: options, the cache of failing tokens, replay commands and statistics."""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import pytest

import interleave
from interleave.errors import OptionError, TokenError
from interleave.result import Result
from interleave.thread_warnings import ENDED_THREADS
from interleave.token import decode

from . import leaks, progress
from .cache import FailureStore
from .command import ini_overrides, launcher
from .command import quote as _quote
from .fresh import fresh_body
from .options import Settings, check_marker_kwargs, resolve
from .undo import real_values_restored

#: Placeholder for the token in the replay command until the token is known.
TOKEN_SLOT = "\x00interleave-token\x00"
#: explore() arguments that replay() takes too (races: only "fail" changes a replay's verdict).
_REPLAY_KWARGS = ("max_steps", "instrument", "exclude", "backend", "stall_timeout", "races")
#: The options that decide what a stored failure means, with their defaults: a failure found under
#: other values (model="instruction", timeouts="anytime") says nothing about the test as it is now.
_MEANING: Dict[str, Any] = {"model": "instruction", "timeouts": "anytime", "instrument": [], "exclude": [],
                             "races": "ignore", "max_steps": None, "backend": "auto"}


def meaning(opts: Mapping[str, Any]) -> Dict[str, Any]:
    """The options of ``opts`` that a stored failure must share with the current run, as JSON values."""
    out: Dict[str, Any] = {}
    for key, default in _MEANING.items():
        value = opts.get(key, default)
        out[key] = sorted(str(v) for v in value) if key in ("instrument", "exclude") else value
    return out


def changed_options(stored: Optional[Mapping[str, Any]], token: str, now: Mapping[str, Any]) -> str:
    """Which options differ between a stored failure and this run ('' when none do)."""
    if stored is None:  # an entry from before options were stored: the token still knows two of them
        try:
            schedule = decode(token)
        except TokenError:
            return ""
        stored = {"model": schedule.model, "timeouts": schedule.timeouts}
    diffs = [f"{k}={stored[k]!r}, now {now[k]!r}" for k in now if k in stored and stored[k] != now[k]]
    return "; ".join(diffs)


@dataclass
class ExplorationRecord:
    """What the explorations of one test did, for the cache, the summary and junit properties."""

    runs: List[Dict[str, Any]] = field(default_factory=list)
    # (exploration index, token, options it failed under) for the cache
    failing: List[Tuple[int, str, Dict[str, Any]]] = field(default_factory=list)
    touched: List[int] = field(default_factory=list)
    last_failure: Optional[Tuple[str, str]] = None  # (token, replay command) of the last failure
    warned: bool = False
    warned_ended: bool = False
    calls: int = 0
    cut: List[str] = field(default_factory=list)  # bounded searches the budget cut short: not a proof
    unproved: List[str] = field(default_factory=list)  # systematic searches that stopped for another reason
    why_unproved: List[str] = field(default_factory=list)  # the same, explained in full (the report section)
    notes: List[str] = field(default_factory=list)  # options the command line made the test drop
    races: List[str] = field(default_factory=list)  # races="report" findings, described
    forgotten: List[str] = field(default_factory=list)  # why stored failures were dropped
    uninstrumented: List[str] = field(default_factory=list)  # installed packages reached but not instrumented
    replayed_token: bool = False  # this test replayed --interleave-replay's token


def target_of(item: pytest.Item) -> str:
    """The node id as the user would type it from the directory pytest was started in."""
    nodeid = item.nodeid
    tail = nodeid.split("::", 1)[1] if "::" in nodeid else ""
    path = getattr(item, "path", None)
    if path is None:
        return nodeid
    try:
        rel = os.path.relpath(str(path), str(item.config.invocation_params.dir))
    except ValueError:
        rel = str(path)
    return f"{rel}::{tail}" if tail else rel


def replay_command(item: pytest.Item, token: str = TOKEN_SLOT, *, given: bool = False,
                   seed: Optional[int] = None, rerun: str = "", call: int = 0) -> str:
    """The exact command that replays this test's failure (``rerun``: the options that repeat the search).

    ``call``: which exploration of the test (0-based) the token belongs to. The command-line
    options a replay needs are repeated: instrument/exclude change what a replay runs, races=fail
    what it checks; so are ``-o`` ini overrides, and the command starts as the session was started
    (``pytest`` or ``python -m pytest``).
    """
    env = os.environ.get("PYTHONHASHSEED")
    prefix = f"PYTHONHASHSEED={env} " if env not in (None, "random") else ""
    prefix += launcher(item.config)
    overrides = "".join(f" {word}" for word in ini_overrides(item.config))
    if given:
        extra = f" {rerun}" if rerun else (f" --interleave-seed={seed}" if seed is not None else "")
        return (f"{prefix} {_quote(target_of(item))}{extra}{overrides}   # Hypothesis replays the failing input "
                "first; the interleaving search for an input is deterministic")
    extra = overrides
    runner = item.config.stash.get(RUNNER_KEY, None)
    if runner is not None:
        for key in ("instrument", "exclude"):
            names = runner.settings.cmdline.get(key)
            if names:
                extra += f" --interleave-{key}={_quote(','.join(names))}"
        if runner.settings.cmdline.get("races") == "fail":  # a replay checks races only when asked
            extra += " --interleave-races=fail"
    if call > 0:
        extra += f" --interleave-replay-call={call + 1}"
    return f"{prefix} {_quote(target_of(item))} --interleave-replay={token}{extra}"


def replays_here(settings: Settings, index: int) -> bool:
    """Whether ``--interleave-replay`` applies to the test's ``index``-th (0-based) exploration."""
    return settings.replay_token is not None and settings.replay_call in (None, index + 1)


def uninstrumented(result: Result) -> List[str]:
    """The installed packages the run reached without instrumenting them."""
    return list(result.uninstrumented)


def instrument_advice(names: List[str]) -> str:
    """How to instrument ``names`` from pytest, in one sentence."""
    listed = ",".join(names)
    return (f"With pytest: --interleave-instrument={listed}, the ini key interleave_instrument = {listed}, "
            f"or @pytest.mark.interleave(instrument={names!r}).")


def short_verdict(result: Result, source: str) -> str:
    """What one exploration covered, in a few words for ``-v``."""
    f = result.failure
    n = result.executions
    if source == "replay-option":
        return f"replayed the --interleave-replay token: {f.kind if f else 'no failure'}"
    if source == "cache":
        return f"replayed the failure stored by an earlier run: {f.kind if f else 'no failure'}"
    if source == "replay":
        return f"replayed a token: {f.kind if f else 'no failure'}"
    if f is not None:
        return f"found {f.kind} after {n} execution{'s' if n != 1 else ''}"
    if result.exhausted:
        return f"exhausted: {result.bound or 'the whole schedule space'}, {n} executions"
    if result.stop_reason == "time":
        return f"budget: {result.elapsed:.1f} s, {n} executions"
    if result.stop_reason == "unproved":
        return f"explored, not a proof ({result.why_unproved(brief=True)}): {n} executions"
    return f"budget: {n} execution{'s' if n != 1 else ''}"


def cut_short(result: Result, source: str) -> Optional[str]:
    """For a bounded search (exhaustive, DPOR) that the budget stopped before it covered its bound: what it did."""
    if source != "search" or result.failure is not None or result.exhausted or not result.bound:
        return None
    if result.stop_reason not in ("executions", "time"):
        return None
    n = result.executions
    budget = f"time budget ({result.elapsed:.1f} s)" if result.stop_reason == "time" else "execution budget"
    return (f"budget spent after {n:,} execution{'s' if n != 1 else ''}: not a proof (the {budget} stopped "
            f"{result.strategy} before it covered: {result.bound})")


def stopped_unproved(result: Result, source: str) -> Optional[str]:
    """For a systematic search that ran out of schedules without a proof (fairness, divergence): why, briefly."""
    if source != "search" or result.failure is not None or result.stop_reason != "unproved":
        return None
    n = result.executions
    return (f"stopped after {n:,} execution{'s' if n != 1 else ''}: not a proof ({result.why_unproved(brief=True)}; "
            f"{result.strategy})")


#: What --interleave-replay adds when a token diverges before its schedule got going.
FOREIGN_TOKEN = ("this token diverged at its first steps: it may belong to another test, or to another version "
                 "of the code; replay it on the test and the code that printed it")
#: Divergences at or before this run of the schedule count as "at its first steps".
_EARLY_RUNS = 2


def diverged_early(result: Result) -> bool:
    """A replay that diverged before the recorded schedule got going."""
    f = result.failure
    if f is None or f.kind != "divergence":
        return False
    text = f"{f.detail} {f.report}"
    m = re.search(r"\brun (\d+):", text) or re.search(r"schedule ended after (\d+) runs", text)
    return m is not None and int(m.group(1)) <= _EARLY_RUNS


class Runner:
    """Runs explorations for the tests of one pytest session (one per process, xdist workers included)."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.store = FailureStore(getattr(config, "cache", None))
        self.replayed = False  # whether --interleave-replay's token was replayed by any test

    def record(self, item: pytest.Item) -> ExplorationRecord:
        """The per-test record, created on first use."""
        rec = item.stash.get(RECORD_KEY, None)
        if rec is None:
            rec = item.stash[RECORD_KEY] = ExplorationRecord()
        return rec

    def options(self, item: pytest.Item, marker: Mapping[str, Any],
                call: Optional[Mapping[str, Any]] = None, notes: Optional[List[str]] = None) -> Dict[str, Any]:
        """explore() keyword arguments for this test (validated marker, session options, call).

        Raises ``ValueError`` with a one-line message when the marker or the call does not fit;
        ``notes`` gets what the command line made the test drop.
        """
        return resolve(self.settings, item.nodeid, marker, call, notes=notes)

    def explore(self, item: pytest.Item, body: Callable[[], Any], marker: Mapping[str, Any],
                call: Optional[Mapping[str, Any]] = None, *, fixtures: Optional[Dict[str, Any]] = None,
                closure_of: Optional[Callable[..., Any]] = None, use_cache: bool = True) -> Result:
        """One exploration of ``body`` for ``item``: replay option, stored failure first, else a search."""
        rec = self.record(item)
        index = rec.calls
        rec.calls += 1
        call = dict(call or {})
        hint = call.pop("hint", None) or replay_command(item, call=index)
        notes: List[str] = []
        opts = self.options(item, marker, call, notes)
        rec.notes.extend(n for n in notes if n not in rec.notes)
        every = dict(getattr(item, "funcargs", None) or fixtures or {})
        with real_values_restored(every):
            return self._explore(item, rec, index, fresh_body(body, every), opts, hint, fixtures, closure_of,
                                 use_cache)

    def _explore(self, item: pytest.Item, rec: ExplorationRecord, index: int, body: Callable[[], Any],
                 opts: Dict[str, Any], hint: str, fixtures: Optional[Dict[str, Any]],
                 closure_of: Optional[Callable[..., Any]], use_cache: bool) -> Result:
        replay_kw = {k: opts[k] for k in _REPLAY_KWARGS if k in opts}
        result: Optional[Result] = None
        source = "search"
        token = self.settings.replay_token
        if token is not None and replays_here(self.settings, index):
            self.replayed = rec.replayed_token = True
            result = interleave.replay(body, token, hint=hint, **replay_kw)
            source = "replay-option"
            if diverged_early(result):
                assert result.failure is not None
                head, _, rest = result.failure.report.partition("\n")
                result.failure.report = f"{head}\n  {FOREIGN_TOKEN}\n{rest}"
        elif use_cache and self.store.enabled and token is None:
            entry = self.store.load(item.nodeid, index)
            if entry is not None:
                stored, stored_opts = entry
                rec.touched.append(index)
                why = "no longer fails"
                other = changed_options(stored_opts, stored, meaning(opts))
                again: Optional[Result] = None
                if other:
                    # Replayed as it was found, it would fail the test for options the test no longer uses.
                    why = f"was found under other options ({other})"
                else:
                    try:
                        again = interleave.replay(body, stored, hint=hint, **replay_kw)
                    except TokenError:
                        why = "can no longer be replayed"
                if again is not None and again.failure is not None and again.failure.kind != "divergence":
                    result, source = again, "cache"
                    head, _, rest = again.failure.report.partition("\n")
                    again.failure.report = (
                        f"{head}\n  replayed first, from pytest's cache: this interleaving failed in an earlier "
                        f"run (--interleave-clear forgets stored failures)\n{rest}")
                else:
                    # A divergence counts as no longer failing: the code changed under the stored schedule.
                    rec.forgotten.append(why)
                    self.store.drop(item.nodeid, index)
        warning: Optional[str] = None
        if result is None:
            watch = leaks.watched(fixtures or {}, closure_of)
            snapshot = leaks.Snapshot(watch) if watch else None
            with progress.shown(self.config, item, opts) as live:
                result = interleave.explore(live.wrap(body), hint=hint, **opts, **live.kwargs)
            changed = snapshot.changed() if snapshot is not None and result.executions > 1 else []
            if changed:
                text = leaks.message(item.nodeid, changed, watch, result.executions)
                if result.failure is not None:
                    # In the report, not as a warning: under ``-W error`` a warning raised here
                    # replaced the failure (no report, no token, nothing stored).
                    result.failure.report += "\n\n" + text
                elif not rec.warned and not leaks.only_files(changed, watch):
                    warning = text  # once per test (@given explores once per example)
        self._finish(rec, index, result, source, opts, hint, cache=use_cache)
        if warning is not None:
            rec.warned = True
            _warn_at(item, leaks.InterleaveFixtureStateWarning(warning))
        ended = next((w for w in result.warnings if ENDED_THREADS in w), None) if result.failure is None else None
        if ended is not None and not rec.warned_ended:
            rec.warned_ended = True  # once per test (@given explores once per example)
            _warn_at(item, leaks.InterleaveEndedThreadsWarning(ended))
        return result

    def replay(self, item: pytest.Item, body: Callable[[], Any], token: str, **kwargs: Any) -> Result:
        """``interleave.replay`` with this test's replay command as the hint."""
        rec = self.record(item)
        index = rec.calls
        rec.calls += 1
        kwargs.setdefault("hint", replay_command(item, call=index))
        result = interleave.replay(body, token, **kwargs)
        self._finish(rec, index, result, "replay", {}, kwargs["hint"], cache=False)
        return result

    def _finish(self, rec: ExplorationRecord, index: int, result: Result, source: str, opts: Mapping[str, Any],
                hint: str, cache: bool) -> None:
        f = result.failure
        missing = uninstrumented(result) if source == "search" else []
        if f is not None:
            f.report = f.report.replace(TOKEN_SLOT, f.token)
            if missing:
                f.report += "\n" + instrument_advice(missing)
            if cache and source != "replay-option":
                rec.failing.append((index, f.token, meaning(opts)))
            rec.last_failure = (f.token, hint.replace(TOKEN_SLOT, f.token))
        elif missing:
            rec.uninstrumented.extend(n for n in missing if n not in rec.uninstrumented)
        cut = cut_short(result, source)
        if cut is not None:
            rec.cut.append(cut)
        unproved = stopped_unproved(result, source)
        if unproved is not None:
            rec.unproved.append(unproved)
            rec.why_unproved.append("\n".join([result.verdict, *result.warnings]))
        if opts.get("races") == "report":
            rec.races.extend(r.describe() if hasattr(r, "describe") else str(r) for r in result.races)
        verdict = short_verdict(result, source)
        rec.runs.append({"executions": result.executions, "elapsed": result.elapsed, "verdict": verdict,
                         "seed": opts.get("seed"), "failed": f is not None})


class InterleaveFixture:
    """The ``interleave`` fixture: ``explore`` and ``replay`` with this run's options, cache and replay command.

    ``interleave.explore(body, **kwargs)`` takes the arguments of :func:`interleave.explore`;
    explicit arguments win, the command line, the test's marker and the ini file fill in the
    rest. It returns the :class:`interleave.Result`; call ``result.raise_for_failure()`` to fail
    the test with the report.
    """

    def __init__(self, runner: Runner, request: pytest.FixtureRequest, marker: Mapping[str, Any]) -> None:
        self._runner = runner
        self._request = request
        self._marker = dict(marker)

    def explore(self, fn: Callable[[], Any], **kwargs: Any) -> Result:
        """Search interleavings of ``fn``; a failure stored by an earlier run is replayed first."""
        item = self._request.node
        fixtures = {k: v for k, v in getattr(item, "funcargs", {}).items() if v is not self}
        try:
            check_marker_kwargs((), {k: v for k, v in kwargs.items() if k != "hint"}, "interleave.explore()")
            return self._runner.explore(item, fn, self._marker, kwargs, fixtures=fixtures, closure_of=fn)
        except (ValueError, OptionError) as exc:
            problem = str(exc)
        pytest.fail(problem, pytrace=False)  # outside the except block: no chained traceback

    def replay(self, fn: Callable[[], Any], token: str, **kwargs: Any) -> Result:
        """Run ``fn`` under exactly the schedule recorded in ``token``."""
        return self._runner.replay(self._request.node, fn, token, **kwargs)

    @staticmethod
    def switch() -> None:
        """An explicit switch point (same as :func:`interleave.switch`)."""
        interleave.switch()

    def options(self, **kwargs: Any) -> Dict[str, Any]:
        """The explore() arguments this fixture would use for a call with ``kwargs``."""
        return self._runner.options(self._request.node, self._marker, kwargs)

    @property
    def seed(self) -> int:
        """The seed explorations in this test start from."""
        return int(self.options()["seed"])

    def __repr__(self) -> str:
        return f"<interleave fixture for {self._request.node.nodeid}>"


RECORD_KEY = pytest.StashKey[ExplorationRecord]()
RUNNER_KEY = pytest.StashKey[Runner]()


def _warn_at(item: pytest.Item, warning: Warning) -> None:
    """Warn at the test's own line: its module's ``filterwarnings`` then apply, as to its own warnings."""
    code = getattr(getattr(item, "function", None), "__code__", None)
    if code is None:
        warnings.warn(warning, stacklevel=3)
        return
    module = getattr(getattr(item, "module", None), "__name__", None) or "interleave_pytest"
    warnings.warn_explicit(warning, type(warning), code.co_filename, code.co_firstlineno, module=module)

