"""Lincheck replay tokens: the scenario (calls and arguments) plus the interleave token of its interleaving."""

from __future__ import annotations

import ast
import base64
import pickle
import zlib
from typing import Any, Sequence, Tuple

from ..errors import TokenError
from .operation import Operation
from .scenario import Scenario

PREFIX = "lc1_"
_LITERAL = 0
_PICKLE = 1


def _literal(value: Any) -> bool:
    try:
        return bool(ast.literal_eval(repr(value)) == value)
    except Exception:  # noqa: BLE001 - not a literal: the token pickles it
        return False


def encode(scenario: Scenario, operations: Sequence[Operation], interleave_token: str) -> str:
    """The token for one scenario and one interleaving of it.

    Arguments that are Python literals (numbers, strings, tuples, lists, dicts, None ...) are
    stored as text; others are pickled, so such a token is only as trustworthy as its source.
    """
    data = {"ops": [o.name for o in operations], "init": list(scenario.init),
            "threads": [list(t) for t in scenario.threads], "il": interleave_token}
    if _literal(data):
        kind, body = _LITERAL, repr(data).encode("utf-8")
    else:
        kind, body = _PICKLE, pickle.dumps(data, protocol=4)
    packed = zlib.compress(bytes([kind]) + body, 9)
    payload = packed + zlib.crc32(packed).to_bytes(4, "big")
    return PREFIX + base64.urlsafe_b64encode(payload).decode("ascii").rstrip("=")


def decode(token: str, operations: Sequence[Operation]) -> Tuple[Scenario, str]:
    """The scenario and the interleave token; ``TokenError`` says what is wrong with the token."""
    if not isinstance(token, str):
        raise TokenError(f"a lincheck token is a string starting with {PREFIX!r}; got {type(token).__name__}")
    token = token.strip()
    if not token.startswith(PREFIX):
        hint = (" (an interleave token: replay it with interleave.replay on the body that printed it)"
                if token.startswith("il") else "")
        raise TokenError(f"not a lincheck token: it must start with {PREFIX!r} (got {token[:12]!r}...){hint}")
    text = token[len(PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise TokenError("lincheck token is damaged (not base64url); copy it again from the report") from None
    if len(raw) < 5 or zlib.crc32(raw[:-4]).to_bytes(4, "big") != raw[-4:]:
        raise TokenError("lincheck token is damaged (checksum mismatch); copy the whole token again")
    try:
        body = zlib.decompress(raw[:-4])
        data = ast.literal_eval(body[1:].decode("utf-8")) if body[0] == _LITERAL else pickle.loads(body[1:])
        names = [o.name for o in operations]
        if data["ops"] != names:
            raise TokenError(f"this lincheck token was recorded with the operations {data['ops']} but the "
                             f"replay was given {names}: pass the same operations, in the same order")
        init = tuple((int(i), tuple(a)) for i, a in data["init"])
        threads = tuple(tuple((int(i), tuple(a)) for i, a in col) for col in data["threads"])
        return Scenario(init, threads), str(data["il"])
    except TokenError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoding problem is a damaged token
        raise TokenError(f"lincheck token is damaged ({type(exc).__name__}); copy it again from the report") from None
