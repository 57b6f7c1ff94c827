"""interleave's pytest plugin: ``@pytest.mark.interleave``, the ``interleave`` fixture and race-hunting options.

Installed with interleave and registered through the ``pytest11`` entry point under the name
``interleave`` (disable it with ``-p no:interleave``). The hooks live in
:mod:`interleave_pytest.plugin`.
"""

from __future__ import annotations

from .fixture import InterleaveFixture
from .leaks import InterleaveFixtureStateWarning

__all__ = ["InterleaveFixture", "InterleaveFixtureStateWarning"]
