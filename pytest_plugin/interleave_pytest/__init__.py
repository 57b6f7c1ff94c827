"""interleave's pytest plugin: ``@pytest.mark.interleave``, the ``interleave`` fixture and race-hunting options.

Installed with the ``pytest-interleave`` distribution and registered through the ``pytest11``
entry point under the name ``interleave_pytest``: ``-p no:interleave_pytest`` disables it, and
``-p interleave_pytest`` loads it when ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` is set. The hooks live
in :mod:`interleave_pytest.plugin`; they are imported here because this package is the module
pytest registers (so that ``-p interleave_pytest`` loads the plugin on every pytest version, with
or without entry-point lookup for ``-p``).
"""

from __future__ import annotations

from . import plugin as _plugin
from .fixture import InterleaveFixture
from .leaks import InterleaveEndedThreadsWarning, InterleaveFixtureStateWarning

__all__ = ["InterleaveEndedThreadsWarning", "InterleaveFixture", "InterleaveFixtureStateWarning"]

# Every hook and the fixture, so that the hooks added to plugin.py never drift out of this list.
globals().update({name: value for name, value in vars(_plugin).items()
                  if name.startswith("pytest_") or name == "interleave"})
