"""Loaded next to the plugin (its own ``pytest11`` entry point): acts only when the plugin is not active.

With ``-p no:interleave_pytest`` a test marked ``interleave`` would otherwise run its body once,
like any test, and pass: a race search that silently did not happen. This module fails such a
test, and the ``interleave`` fixture, with a message that says the plugin is not active and how
to load it.

Under ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` no entry point loads, this one included: there,
``--strict-markers`` (or ``-p interleave_pytest`` in ``addopts``) is the protection; see the README.
"""

from __future__ import annotations

from typing import Any

import pytest

PLUGIN_NAME = "interleave_pytest"
#: Set by the plugin's pytest_configure.
ACTIVE_KEY = pytest.StashKey[bool]()


def inactive_message(config: pytest.Config) -> str:
    """Why interleave did not run, and how to make it run."""
    if config.pluginmanager.is_blocked(PLUGIN_NAME):
        why = f"it was disabled with -p no:{PLUGIN_NAME}"
    else:
        why = "it was not loaded"
    return (f"the interleave pytest plugin is not active ({why}): this test would run once instead of "
            f"exploring interleavings. Load it with -p {PLUGIN_NAME}, or deselect interleave tests with "
            "-m 'not interleave'")


def plugin_active(config: pytest.Config) -> bool:
    """Whether the real plugin configured this session."""
    return config.stash.get(ACTIVE_KEY, False)


class _Inactive:
    """The marker and the fixture, failing loudly while the plugin is not active."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """A marked test fails before its body runs."""
        if item.get_closest_marker("interleave") is not None and not plugin_active(item.config):
            pytest.fail(inactive_message(item.config), pytrace=False)

    @pytest.fixture(name="interleave")
    def interleave_fixture(self, request: pytest.FixtureRequest) -> Any:
        """Stands in for the plugin's ``interleave`` fixture: fails, saying why."""
        pytest.fail(inactive_message(request.config), pytrace=False)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """After every plugin configured: stand in for the plugin if it did not."""
    if plugin_active(config):
        return
    config.addinivalue_line("markers", "interleave(...): explore thread interleavings (the interleave plugin "
                                       "is not active: marked tests fail)")
    config.pluginmanager.register(_Inactive(config), "interleave_pytest_inactive")
