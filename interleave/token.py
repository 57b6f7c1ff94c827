"""Replay tokens: short, URL-safe, versioned text that records one schedule exactly."""

from __future__ import annotations

import base64
import os
import zlib
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from .errors import TokenError
from .versions import PY
from .versions import python as current_python

PREFIX = "il1_"
_VERSION = 2
# Format 1 (interleave before 0.2's solo threads) always counted a lone thread's switch points.
_LONE_POINTS = 1
# Timeouts ran out only when no thread could run (``timeouts="when-stuck"``); unset: anytime.
_WHEN_STUCK = 2
# The step limit was not the default: its value follows the runs (a step-limit failure replays
# only under the same limit).
_MAX_STEPS = 4
_MODELS = ("instruction", "gil")


@dataclass(frozen=True)
class Schedule:
    """The complete record of one execution: who ran how long, plus what else made it so."""

    runs: Tuple[Tuple[int, int], ...]
    model: str = "instruction"
    random_seed: int = 0
    hash_seed: str = field(default_factory=lambda: os.environ.get("PYTHONHASHSEED", "random"))
    python: Tuple[int, int] = field(default_factory=lambda: PY)
    #: Whether a thread running alone passed switch points that count (DPOR's runs), or ran
    #: its visible instructions uncounted (every other strategy): replay must do the same.
    lone_points: bool = False
    #: When a pending timeout could run out (``explore(timeouts=...)``): replay must do the same.
    timeouts: str = "anytime"
    #: The execution's step limit when it was not the default (None): replay uses it.
    max_steps: Optional[int] = None

    @property
    def steps(self) -> int:
        return sum(n for _, n in self.runs)

    @property
    def switches(self) -> int:
        return max(0, len(self.runs) - 1)


def _varint(n: int, out: bytearray) -> None:
    if n < 0:
        raise ValueError("negative")
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return


def _read_varint(data: bytes, pos: int) -> Tuple[int, int]:
    shift = 0
    n = 0
    while True:
        if pos >= len(data):
            raise TokenError("replay token is truncated: copy the whole token from the report")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, pos
        shift += 7
        if shift > 70:
            raise TokenError("replay token is damaged (an impossible number in it)")


def encode(schedule: Schedule) -> str:
    """The token for ``schedule``."""
    body = bytearray([_VERSION, schedule.python[0], schedule.python[1], _MODELS.index(schedule.model),
                      (_LONE_POINTS if schedule.lone_points else 0)
                      | (_WHEN_STUCK if schedule.timeouts == "when-stuck" else 0)
                      | (_MAX_STEPS if schedule.max_steps is not None else 0)])
    hs = schedule.hash_seed
    _varint(0 if hs == "random" else int(hs) + 1, body)
    _varint(schedule.random_seed, body)
    _varint(len(schedule.runs), body)
    for tid, n in schedule.runs:
        _varint(tid, body)
        _varint(n, body)
    if schedule.max_steps is not None:
        _varint(schedule.max_steps, body)
    packed = zlib.compress(bytes(body), 9)
    payload = packed + zlib.crc32(packed).to_bytes(4, "big")
    return PREFIX + base64.urlsafe_b64encode(payload).decode("ascii").rstrip("=")


def decode(token: str, *, check_python: bool = True) -> Schedule:
    """Parse a token; raise TokenError naming what is wrong with it and how to fix it."""
    if not isinstance(token, str):
        raise TokenError(f"a replay token is a string starting with {PREFIX!r}; got {type(token).__name__}")
    token = token.strip()
    if not token.startswith(PREFIX):
        if token.startswith("il") and "_" in token[:5]:
            raise TokenError(
                f"replay token version {token.split('_')[0]!r} is not understood by this interleave "
                f"(it reads {PREFIX!r}); replay it with the interleave version that made it"
            )
        raise TokenError(f"not a replay token: it must start with {PREFIX!r} (got {token[:12]!r}...)")
    text = token[len(PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise TokenError(f"replay token is damaged (not base64url: {exc}); copy it again from the report") from None
    if len(raw) < 5 or zlib.crc32(raw[:-4]).to_bytes(4, "big") != raw[-4:]:
        raise TokenError("replay token is damaged (checksum mismatch); copy the whole token again from the report")
    try:
        data = zlib.decompress(raw[:-4])
    except zlib.error:
        raise TokenError("replay token is damaged (cannot decompress); copy it again from the report") from None
    if data[0] not in (1, _VERSION):
        raise TokenError(f"replay token format {data[0]} is not supported by this interleave (it reads 1 and "
                         f"{_VERSION}); replay it with the interleave version that made it")
    python = (data[1], data[2])
    if check_python and python != PY:
        raise TokenError(
            f"this replay token was recorded on Python {python[0]}.{python[1]} but this is "
            f"{current_python()}: bytecode differs between versions, so the "
            "schedule cannot be replayed here. Replay it on the Python version that found it."
        )
    if data[3] >= len(_MODELS):
        raise TokenError("replay token names an unknown memory model; it is damaged or too new")
    model = _MODELS[data[3]]
    timeouts = "anytime"
    if data[0] == 1:
        lone_points, pos = True, 4
    else:
        if len(data) < 5 or data[4] & ~(_LONE_POINTS | _WHEN_STUCK | _MAX_STEPS):
            raise TokenError("replay token is damaged (unknown flags)")
        lone_points, pos = bool(data[4] & _LONE_POINTS), 5
        if data[4] & _WHEN_STUCK:
            timeouts = "when-stuck"
    hs, pos = _read_varint(data, pos)
    rseed, pos = _read_varint(data, pos)
    count, pos = _read_varint(data, pos)
    runs: List[Tuple[int, int]] = []
    for _ in range(count):
        tid, pos = _read_varint(data, pos)
        n, pos = _read_varint(data, pos)
        runs.append((tid, n))
    max_steps = None
    if data[0] != 1 and data[4] & _MAX_STEPS:
        max_steps, pos = _read_varint(data, pos)
    if pos != len(data):
        raise TokenError("replay token is damaged (trailing bytes)")
    return Schedule(tuple(runs), model, rseed, "random" if hs == 0 else str(hs - 1), python, lone_points, timeouts,
                    max_steps)
