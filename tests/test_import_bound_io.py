"""Real I/O inside a library: an inconclusive verdict within seconds that names the library and line."""

from __future__ import annotations

import importlib
import sqlite3
import sys
import textwrap
import threading

import pytest

import interleave
from interleave.patches import adopter
from interleave.runtime import watchdog

on_main_thread = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="a call blocked in the kernel can be broken by a signal, which reaches the main thread only")

NETLIB = '''
import sqlite3


def fetch(sock):
    return sock.recv(16)


def store(path, value):
    conn = sqlite3.connect(path, timeout=3)  # SQLite's busy wait ignores signals
    try:
        conn.execute("INSERT INTO t VALUES (?)", (value,))
        conn.commit()
    finally:
        conn.close()
'''


@pytest.fixture()
def netlib(tmp_path, monkeypatch):
    site = tmp_path / "lib" / "site-packages"
    (site / "netlib_io").mkdir(parents=True)
    (site / "netlib_io" / "__init__.py").write_text(textwrap.dedent(NETLIB))
    monkeypatch.syspath_prepend(str(site))
    yield importlib.import_module("netlib_io")
    sys.modules.pop("netlib_io", None)


def test_default_blocked_seconds_is_two() -> None:
    assert watchdog.BLOCKED_SECONDS == 2.0 or "INTERLEAVE_BLOCKED_SECONDS" in __import__("os").environ


@on_main_thread
@pytest.mark.timeout(120)
def test_a_socket_read_inside_a_library_names_the_library_and_line(netlib, monkeypatch) -> None:
    import socket

    monkeypatch.setattr(watchdog, "BLOCKED_SECONDS", 0.5)
    a, b = socket.socketpair()
    try:
        def body() -> None:
            t = threading.Thread(target=netlib.fetch, args=(a,))
            t.start()
            t.join()

        with pytest.raises(interleave.RealBlockingError) as info:
            interleave.explore(body, executions=2, seed=0)
    finally:
        a.close()
        b.close()
    message = str(info.value)
    assert "in library netlib_io (" in message and "netlib_io/__init__.py:6)" in message, message
    assert "sock.recv()" in message, message


@on_main_thread
@pytest.mark.timeout(120)
def test_an_sqlite_busy_wait_inside_a_library_is_inconclusive(netlib, monkeypatch, tmp_path, capfd) -> None:
    """Another connection holds the database's write lock: SQLite's busy handler sleeps in C.

    The busy wait cannot be interrupted: it is reported on stderr at once and raised when
    SQLite gives up (its timeout), not as the library's own "database is locked".
    """
    monkeypatch.setattr(watchdog, "BLOCKED_SECONDS", 0.5)
    path = str(tmp_path / "db.sqlite")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (v INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        def body() -> None:
            t = threading.Thread(target=netlib.store, args=(path, 1))
            t.start()
            t.join()

        with pytest.raises(interleave.RealBlockingError) as info:
            interleave.explore(body, executions=2, seed=0)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    message = str(info.value)
    assert "in library netlib_io (" in message and "netlib_io/__init__.py:12)" in message, message
    assert "does not return to Python" in capfd.readouterr().err


@on_main_thread
@pytest.mark.timeout(120)
def test_a_lock_past_the_search_budget_is_named_with_the_budget(tmp_path, monkeypatch) -> None:
    site = tmp_path / "lib" / "site-packages"
    (site / "deeplock_lib").mkdir(parents=True)
    (site / "deeplock_lib" / "__init__.py").write_text(textwrap.dedent('''
        import threading
        FILLER = [[object() for _ in range(50)] for _ in range(50)]
        HOLDER = {"lock": threading.Lock()}
        def work(box):
            with HOLDER["lock"]:
                v = box[0]
                box[0] = v + 1
    '''))
    monkeypatch.syspath_prepend(str(site))
    lib = importlib.import_module("deeplock_lib")
    monkeypatch.setattr(watchdog, "BLOCKED_SECONDS", 0.5)
    monkeypatch.setattr(adopter, "_MODULE_BUDGET", 0)
    try:
        def body() -> None:
            box = [0]
            ts = [threading.Thread(target=lib.work, args=(box,)) for _ in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()

        with pytest.raises(interleave.ForeignPrimitiveError) as info:
            interleave.explore(body, executions=50, seed=0, instrument=["deeplock_lib"])
    finally:
        sys.modules.pop("deeplock_lib", None)
    message = str(info.value)
    assert "INTERLEAVE_ADOPT_BUDGET" in message and "budget of 0 objects" in message, message
    assert "with instrument=[...]" not in message, message
