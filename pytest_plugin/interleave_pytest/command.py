"""How the printed Reproduce command starts and which of the session's settings it repeats.

The command must run in the environment the user is in: a session started with ``python -m
pytest`` (often because no ``pytest`` script is on the PATH, or another environment's is) prints
``python -m pytest``, and ``-o`` ini overrides are repeated, since the replay reads the same ini
file but not the same command line.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import sys
from typing import List

import pytest

#: pytest-xdist: the controller's launcher, handed to the workers (their own ``__main__`` is execnet's).
WORKER_KEY = "interleave_launcher"


def quote(text: str) -> str:
    """``text`` as one POSIX shell word."""
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _started_with_dash_m(config: pytest.Config) -> bool:
    """Whether this session is the process's own ``python -m pytest`` command (not ``pytest.main()`` inside it)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if getattr(spec, "name", None) not in ("pytest", "pytest.__main__"):
        return False
    # A pytest.main(args) call in that process (pytester's in-process runs) has arguments of its own.
    return tuple(config.invocation_params.args) == tuple(sys.argv[1:])


@functools.cache
def _python() -> str:
    """This interpreter as the user can type it: its bare name when the PATH finds this very file.

    Once per process: every marked test's command starts with it, and the PATH search reads directories.
    """
    exe = sys.executable
    name = os.path.basename(exe)
    found = shutil.which(name)
    # Compared without resolving symlinks: a venv's python links to the base interpreter, which lacks the venv.
    if found is not None and os.path.abspath(found) == os.path.abspath(exe):
        return name
    return shlex.quote(exe)


def launcher(config: pytest.Config) -> str:
    """``pytest`` or ``python -m pytest``, as this session was started (on an xdist worker: as the controller was)."""
    worker = getattr(config, "workerinput", None)
    if worker is not None and isinstance(worker.get(WORKER_KEY), str):
        return str(worker[WORKER_KEY])
    return f"{_python()} -m pytest" if _started_with_dash_m(config) else "pytest"


def ini_overrides(config: pytest.Config) -> List[str]:
    """The session's ``-o name=value`` options, as shell words to repeat."""
    out: List[str] = []
    for entry in getattr(config.option, "override_ini", None) or ():
        out += ["-o", quote(str(entry))]
    return out
