"""Cooperative synchronisation models; the standard library's pure-Python code runs on top."""
