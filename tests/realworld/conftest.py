"""Budgets of the real-library suite: a short default for CI, the full one with INTERLEAVE_REALWORLD_LONG=1."""

from __future__ import annotations

import os
import sys

# The suite's helpers live next to it; the rest of tests/ does the same through rootdir imports.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
