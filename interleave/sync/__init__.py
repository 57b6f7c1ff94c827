"""Cooperative synchronisation models; the standard library's pure-Python code runs on top.

Each primitive is one module that declares itself (``declare_primitive``) when imported; the
imports below are the list of them.
"""

from . import lock, simplequeue  # noqa: F401
