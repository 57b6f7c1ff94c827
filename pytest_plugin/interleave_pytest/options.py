"""The plugin's options: parsed from the command line, the ini file and the marker, with errors that name the fix.

Precedence, per option: the command line, then the marker (or the arguments of an explicit
``interleave.explore`` call, which win over everything), then the ini file, then interleave's
own defaults. ``instrument`` and ``exclude`` are sets of code, not single values: every level
adds to them (ini, marker, command line, call), and ``exclude`` wins over ``instrument``.
"""

from __future__ import annotations

import argparse
import inspect
import numbers
import os
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import pytest

from .targets import TARGET_OPTIONS, merge_targets, parse_targets

#: What ``@pytest.mark.interleave(...)`` accepts: the options of ``interleave.explore``.
MARKER_KWARGS = (
    "executions", "strategy", "seed", "model", "time_budget", "preemptions", "depth",
    "max_steps", "instrument", "exclude", "backend", "shrink", "races", "stall_timeout", "timeouts",
)
#: Executions when a command-line time budget makes time the only limit.
UNLIMITED = 10**12
_SEED_SPACE = 2**31


def parse_executions(text: str) -> int:
    """``--interleave-executions``: a positive integer."""
    try:
        value = int(str(text).strip().replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a positive whole number of executions per test, e.g. 500 (got {text!r})")
    return value


def parse_seed(text: str) -> Any:
    """``--interleave-seed``: a non-negative integer, or ``random`` for a fresh seed each run."""
    t = str(text).strip()
    if t.lower() == "random":
        return "random"
    try:
        value = int(t)
    except ValueError:
        value = -1
    if not 0 <= value < _SEED_SPACE:
        raise argparse.ArgumentTypeError(
            f"must be an integer from 0 to {_SEED_SPACE - 1}, or 'random' for a new seed every run (got {text!r})")
    return value


def parse_model(text: str) -> str:
    """``--interleave-model``: ``instruction`` or ``gil``."""
    from interleave.instrument.opcodes import MODELS

    t = str(text).strip()
    if t not in MODELS:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(MODELS)} (got {text!r})")
    return t


def parse_timeouts(text: str) -> str:
    """``--interleave-timeouts``: ``anytime`` or ``when-stuck``."""
    from interleave.runtime.blocked import TIMEOUTS

    t = str(text).strip()
    if t not in TIMEOUTS:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(TIMEOUTS)} (got {text!r})")
    return t


def parse_time_budget(text: str) -> float:
    """``--interleave-time-budget``: positive seconds per test (``90``, ``1.5``, ``2m``)."""
    t = str(text).strip().lower()
    scale = 1.0
    if t.endswith("ms"):
        t, scale = t[:-2], 0.001
    elif t.endswith("s"):
        t = t[:-1]
    elif t.endswith("m"):
        t, scale = t[:-1], 60.0
    elif t.endswith("h"):
        t, scale = t[:-1], 3600.0
    try:
        value = float(t) * scale
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be a positive number of seconds per test, e.g. 30, 2.5 or 5m (got {text!r})")
    return value


def _count(text: str, minimum: int) -> int:
    try:
        value = int(str(text).strip().replace("_", ""))
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum} (got {text!r})")
    return value


def parse_preemptions(text: str) -> int:
    """``--interleave-preemptions``: the preemption bound of exhaustive, dpor and hypothesis (>= 0)."""
    return _count(text, 0)


def parse_depth(text: str) -> int:
    """``--interleave-depth``: PCT's bug depth (>= 1)."""
    return _count(text, 1)


def parse_races(text: str) -> str:
    """``--interleave-races``: ignore, report or fail."""
    from interleave.races import MODES

    t = str(text).strip()
    if t not in MODES:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(MODES)} (got {text!r})")
    return t


def parse_shard(text: str) -> Tuple[int, int]:
    """``--interleave-shard``: ``i/n``, shards numbered from 1; returns ``(i - 1, n)``."""
    t = str(text).strip()
    parts = t.split("/")
    try:
        i, n = (int(p) for p in parts) if len(parts) == 2 else (-1, -1)
    except ValueError:
        i, n = -1, -1
    if n < 1 or not 1 <= i <= n:
        extra = " (shards are numbered from 1)" if i == 0 and n >= 1 else ""
        raise argparse.ArgumentTypeError(
            f"must be i/n with 1 <= i <= n, e.g. 1/4 ... 4/4 for four CI jobs{extra} (got {text!r})")
    return i - 1, n


def parse_token(text: str) -> str:
    """``--interleave-replay``: a replay token this Python can replay."""
    from interleave.errors import TokenError
    from interleave.token import decode

    t = str(text).strip()
    try:
        decode(t)
    except TokenError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return t


def parse_call(text: str) -> int:
    """``--interleave-replay-call``: a 1-based exploration number."""
    return _count(text, 1)


#: ini name -> (parser, help)
INI: Dict[str, Tuple[Callable[[str], Any], str]] = {
    "interleave_executions": (parse_executions, "executions per interleave test (default: interleave's, 1000)"),
    "interleave_strategy": (str, "search strategy for interleave tests (default: interleave's)"),
    "interleave_seed": (parse_seed, "seed for interleave tests: an integer, or 'random' (default: derived "
                                    "from each test's node id, so runs repeat)"),
    "interleave_model": (parse_model, "memory model for interleave tests: instruction or gil"),
    "interleave_timeouts": (parse_timeouts, "when a pending timeout may run out in interleave tests: anytime "
                                            "(default) or when-stuck (only when no thread can run)"),
    "interleave_time_budget": (parse_time_budget, "wall-time cap per interleave test, in seconds"),
    "interleave_preemptions": (parse_preemptions, "preemption bound for the strategies that take one "
                                                  "(exhaustive, dpor, hypothesis)"),
    "interleave_depth": (parse_depth, "bug depth for the strategies that take one (pct)"),
    "interleave_races": (parse_races, "data races: ignore (default), report or fail"),
    "interleave_stall_timeout": (parse_time_budget, "seconds a run may compute without reaching a switch point "
                                                    "before it is stopped as inconclusive (default 10)"),
}
#: ini name -> help, for the keys that list code (a line per name, or names separated by commas).
INI_TARGETS: Dict[str, str] = {
    "interleave_instrument": "packages, modules or paths whose code interleave tests instrument in addition to "
                             "the project's own (e.g. installed libraries): one per line or separated by commas; "
                             "the marker's and --interleave-instrument add to them",
    "interleave_exclude": "packages, modules or paths interleave tests never instrument (wins over instrument): "
                          "one per line or separated by commas",
}
#: Options read from the command line into Settings.cmdline (also the ini keys, with interleave_).
SESSION_OPTIONS = ("executions", "strategy", "seed", "model", "time_budget", "preemptions", "depth", "races",
                   "stall_timeout", "instrument", "exclude", "timeouts")
#: Strategy parameters: they only reach the strategies that take them.
STRATEGY_PARAMS = ("preemptions", "depth")


def default_strategy() -> Any:
    """explore()'s default strategy, for deciding which strategy parameters apply."""
    import interleave

    global _default_of
    explore = interleave.explore
    if _default_of[0] is not explore:  # read once per explore function: a signature costs 50 us
        _default_of = (explore, inspect.signature(explore).parameters["strategy"].default)
    return _default_of[1]


_default_of: Tuple[Any, Any] = (None, None)


def check_strategy(name: str) -> str:
    """A strategy name the registry knows."""
    from interleave.strategies import registry

    known = registry.names()
    if name not in known:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(known)} (got {name!r})")
    return name


def strategy_params(name: str) -> Tuple[str, ...]:
    """Which of ``preemptions`` and ``depth`` the named strategy takes (read from its factory)."""
    from interleave.strategies import registry

    described = getattr(registry, "parameters", None)  # a public registry query, if the library has one
    if described is not None:
        return tuple(p for p in described(name) if p in STRATEGY_PARAMS)
    registry.names()  # loads the built-in strategies
    factory = getattr(registry, "_FACTORIES", {}).get(name)
    if factory is None:
        return ()
    if name == "hypothesis":  # takes **params and reads preemptions from them
        return ("preemptions",)
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return STRATEGY_PARAMS
    return tuple(p for p in STRATEGY_PARAMS if p in params)


def strategies_taking(param: str) -> Tuple[str, ...]:
    """The registered strategies that take ``param``."""
    from interleave.strategies import registry

    return tuple(n for n in registry.names() if param in strategy_params(n))


def param_mismatch(strategy: str, given: Mapping[str, Any]) -> Optional[str]:
    """Why ``strategy`` cannot take the strategy parameters in ``given``, in one sentence; None if it can."""
    if not isinstance(strategy, str):
        return None  # a Strategy instance carries its own parameters
    takes = strategy_params(strategy)
    wrong = [p for p in STRATEGY_PARAMS if given.get(p) is not None and p not in takes]
    if not wrong:
        return None
    accepts = f"takes only {', '.join(takes)}" if takes else "takes no strategy parameters"
    where = "; ".join(f"{p} is for {', '.join(strategies_taking(p)) or 'no strategy'}" for p in wrong)
    return f"strategy {strategy!r} {accepts}; got {', '.join(f'{p}={given[p]!r}' for p in wrong)} ({where})"


@dataclass
class Settings:
    """Session-wide option values (``None``: not given at that level)."""

    cmdline: Dict[str, Any] = field(default_factory=dict)
    ini: Dict[str, Any] = field(default_factory=dict)
    replay_token: Optional[str] = None
    replay_call: Optional[int] = None  # which exploration of the test the token replays (1-based); None: each
    shard: Tuple[int, int] = (0, 1)
    session_seed: Optional[int] = None  # drawn once when the seed is 'random'
    clear: bool = False
    bad_option: str = ""  # a usage error found on a pytest-xdist worker, reported by each interleave test

    def seed_for(self, explicit: Any, nodeid: str) -> int:
        """The exploration seed of one test: explicit, or derived from its node id; then put in its shard."""
        seed = explicit
        if seed == "random":
            seed = self.session_seed if self.session_seed is not None else _random_seed()
        if seed is None:
            seed = zlib.crc32(nodeid.encode("utf-8")) & 0x7FFFFFFF
        index, count = self.shard
        return (int(seed) % (_SEED_SPACE // count)) * count + index


def _random_seed() -> int:
    return int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF


def read_settings(config: pytest.Config) -> Settings:
    """Options from the command line and the ini file; bad values raise ``pytest.UsageError``."""
    s = Settings()
    for name in SESSION_OPTIONS:
        value = config.getoption(f"interleave_{name}", None)
        if value is not None:
            # The code-naming options may be repeated; each occurrence is a comma list.
            s.cmdline[name] = merge_targets(*value) if name in TARGET_OPTIONS else value
    for ini_name in INI_TARGETS:
        lines = [line for line in config.getini(ini_name) or () if str(line).strip()]
        if not lines:
            continue
        try:
            s.ini[ini_name[len("interleave_"):]] = merge_targets(*(parse_targets(str(line)) for line in lines))
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(f"ini option {ini_name} = {lines!r}: {exc}") from None
    for ini_name, (parse, _) in INI.items():
        raw = config.getini(ini_name)
        if raw in ("", None):
            continue
        try:
            s.ini[ini_name[len("interleave_"):]] = parse(str(raw))
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(f"ini option {ini_name} = {raw!r}: {exc}") from None
    for where, values, label in (("command line", s.cmdline, "--interleave-strategy"),
                                 ("ini", s.ini, "interleave_strategy")):
        if "strategy" in values:
            if where == "ini":
                # No parameter check: the ini's preemptions/depth are for the tests whose marker names a
                # strategy that takes them (the ini strategy is only a default).
                try:
                    check_strategy(values["strategy"])
                except argparse.ArgumentTypeError as exc:
                    raise pytest.UsageError(f"{label} ({where}): {exc}") from None
                continue
            try:
                check_strategy(values["strategy"])
            except argparse.ArgumentTypeError as exc:
                raise pytest.UsageError(f"{label} ({where}): {exc}") from None
            problem = param_mismatch(values["strategy"], values)
            if problem is not None:
                raise pytest.UsageError(f"{label} ({where}): {problem}")
    s.replay_token = config.getoption("interleave_replay", None)
    s.replay_call = config.getoption("interleave_replay_call", None)
    if s.replay_call is not None and s.replay_token is None:
        raise pytest.UsageError("--interleave-replay-call says which exploration --interleave-replay replays: "
                                "give the token too")
    shard = config.getoption("interleave_shard", None)
    if shard is not None:
        s.shard = shard
    s.clear = bool(config.getoption("interleave_clear", False))
    if "random" in (s.cmdline.get("seed"), s.ini.get("seed")):
        worker_input = getattr(config, "workerinput", None)
        inherited = worker_input.get("interleave_session_seed") if worker_input else None
        s.session_seed = inherited if inherited is not None else _random_seed()
    return s


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _value_problem(key: str, value: Any) -> Optional[str]:
    """What is wrong with one marker (or explicit call) argument, as "accepts ...", or None."""
    from interleave.instrument.backend import BACKENDS
    from interleave.instrument.opcodes import MODELS
    from interleave.races import MODES
    from interleave.runtime.blocked import TIMEOUTS

    def choice(options: Any) -> Optional[str]:
        return None if value in options else f"one of {', '.join(repr(o) for o in options)}"

    if key in ("executions", "max_steps"):
        return None if _is_int(value) and value >= 1 else "a whole number >= 1"
    if key == "preemptions":
        return None if value is None or (_is_int(value) and value >= 0) else "None or a whole number >= 0"
    if key == "depth":
        return None if value is None or (_is_int(value) and value >= 1) else "None or a whole number >= 1"
    if key == "seed":
        ok = value is None or value == "random" or (_is_int(value) and 0 <= value < _SEED_SPACE)
        return None if ok else f"None, 'random' or a whole number from 0 to {_SEED_SPACE - 1}"
    if key in ("time_budget", "stall_timeout"):
        ok = value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1e12)
        return None if ok else "None or a positive number of seconds"
    if key == "strategy":
        from interleave.strategies import registry
        from interleave.strategies.base import Strategy

        if isinstance(value, Strategy):
            return None
        known = f"one of {', '.join(repr(n) for n in registry.names())}"
        return None if value in registry.names() else known + ("" if isinstance(value, str) else " or a Strategy")
    if key == "model":
        return choice(MODELS)
    if key == "timeouts":
        return choice(TIMEOUTS)
    if key == "races":
        return choice(MODES)
    if key == "backend":
        return choice(BACKENDS)
    if key == "shrink":
        return None if isinstance(value, bool) else "True or False"
    if key in ("instrument", "exclude"):
        ok = isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value))
        return None if ok else "a module name, a path, or a list of them"
    return None


def check_marker_kwargs(args: Tuple[Any, ...], kwargs: Mapping[str, Any], where: str) -> None:
    """Reject what ``explore`` would not accept, in one line naming the argument, what it accepts and the value."""
    if args:
        raise ValueError(f"{where} takes keyword arguments only, e.g. @pytest.mark.interleave(executions=300); "
                         f"got positional {args!r}")
    unknown = sorted(set(kwargs) - set(MARKER_KWARGS))
    if unknown:
        raise ValueError(f"{where} got unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                         f"it accepts {', '.join(MARKER_KWARGS)}")
    for key in MARKER_KWARGS:
        if key in kwargs:
            accepts = _value_problem(key, kwargs[key])
            if accepts is not None:
                raise ValueError(f"{where}: {key} must be {accepts}; got {kwargs[key]!r}")
    if "strategy" in kwargs:
        problem = param_mismatch(kwargs["strategy"], kwargs)
        if problem is not None:
            raise ValueError(f"{where}: {problem}")


def merge_markers(levels: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """One set of marker arguments from markers at module, class and function level (farthest first).

    A closer marker's argument wins over a farther one's; ``instrument``/``exclude`` add up, as
    they do across the other levels; a closer marker that names another strategy drops the
    farther markers' ``preemptions``/``depth``, which belonged to theirs.
    """
    out: Dict[str, Any] = {}
    for kwargs in levels:
        if "strategy" in kwargs and out.get("strategy", kwargs["strategy"]) != kwargs["strategy"]:
            for key in STRATEGY_PARAMS:
                out.pop(key, None)
        for key, value in kwargs.items():
            out[key] = merge_targets(out.get(key), value) if key in TARGET_OPTIONS else value
    return out


def resolve(settings: Settings, nodeid: str, marker: Mapping[str, Any],
            call: Optional[Mapping[str, Any]] = None, *, where: str = "@pytest.mark.interleave",
            notes: Optional[List[str]] = None) -> Dict[str, Any]:
    """The ``explore`` keyword arguments for one exploration of one test.

    ``marker``: the marker's arguments; ``call``: the arguments of an explicit
    ``interleave.explore`` call through the fixture (they win over everything). Strategy
    parameters from the command line or the ini file reach only the strategies that take them;
    the call's go with its strategy, and a mismatch raises ``ValueError``. A command-line
    strategy keeps the marker's parameters it takes and drops the others, saying so in ``notes``.
    """
    call = dict(call or {})
    cmd = settings.cmdline
    out: Dict[str, Any] = {}
    origin: Dict[str, str] = {}
    for level, values in (("ini", settings.ini), ("marker", marker), ("cmdline", cmd), ("call", call)):
        for key, value in values.items():
            out[key] = merge_targets(out.get(key), value) if key in TARGET_OPTIONS else value
            origin[key] = level
    # An explicit call is code written for its strategy: the marker's parameters, which belong to the
    # strategy the marker names (without one, the session's), go when the call names another.
    went_with = marker.get("strategy", cmd.get("strategy", settings.ini.get("strategy", default_strategy())))
    replaced = "strategy" in call and call["strategy"] != went_with
    if "strategy" in cmd and "strategy" not in call:
        # Typed in CI for every test: the marker's parameters apply where the strategy takes them.
        takes = strategy_params(cmd["strategy"])
        dropped = []
        for key in STRATEGY_PARAMS:
            if origin.get(key) == "marker" and key not in takes:
                dropped.append(f"{key}={out.pop(key)!r}")
                del origin[key]
        if dropped and notes is not None:
            notes.append(f"--interleave-strategy={cmd['strategy']} does not take the marker's "
                         f"{', '.join(dropped)}: dropped")
    if replaced:
        for key in STRATEGY_PARAMS:
            if origin.get(key) == "marker":
                out.pop(key)
                origin.pop(key)
                if key in settings.ini:
                    out[key], origin[key] = settings.ini[key], "ini"
    strategy = out.get("strategy", default_strategy())
    takes = strategy_params(strategy) if isinstance(strategy, str) else STRATEGY_PARAMS
    for key in STRATEGY_PARAMS:
        if key in out and key not in takes and origin[key] in ("ini", "cmdline"):
            del out[key]  # a session-wide bound for the tests whose strategy has one
    explicit = {k: out[k] for k in STRATEGY_PARAMS if k in out and origin[k] in ("marker", "call")}
    problem = param_mismatch(strategy, explicit)
    if problem is not None:
        raise ValueError(f"{'interleave.explore()' if any(origin[k] == 'call' for k in explicit) else where}: "
                         f"{problem}")
    if "time_budget" in cmd and "executions" not in cmd and "executions" not in call:
        out["executions"] = UNLIMITED  # race hunting: time is the budget
    seed = out.get("seed")
    out["seed"] = seed if "seed" in call else settings.seed_for(seed, nodeid)
    return out
