"""``instrument=`` names code interleave can see, or says why it cannot."""

from __future__ import annotations

import pytest

import interleave


@pytest.mark.parametrize("name", ["_queue", "_json"])
def test_instrumenting_a_c_extension_is_an_error_that_says_so(name: str) -> None:
    mod = __import__(name)
    if not getattr(mod, "__file__", "").endswith((".so", ".pyd")):
        pytest.skip(f"{name} is built into this interpreter")
    with pytest.raises(ValueError, match="no Python source .a C extension"):
        interleave.explore(lambda: None, executions=1, instrument=[name])


def test_instrumenting_a_builtin_module_is_an_error() -> None:
    with pytest.raises(ValueError, match="cannot instrument 'sys'"):
        interleave.explore(lambda: None, executions=1, instrument=["sys"])
