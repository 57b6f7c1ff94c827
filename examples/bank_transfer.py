"""Money transfers between bank accounts, three ways.

* ``buggy``: check-then-act without a lock. Two transfers out of one account both see enough
  money, both withdraw it, and the account is overdrawn (or one withdrawal overwrites the other
  and money appears from nowhere).
* ``fixed``: each account has a lock; a transfer takes the locks of both accounts, always in the
  same global order (by account number), so no two transfers can wait for each other.
* ``deadlocking``: the same locks taken in argument order (source first, then destination).
  Alice -> Bob and Bob -> Alice at the same time can each hold one lock and wait forever for the
  other: interleave reports a deadlock and names both threads.

Run it: ``python examples/bank_transfer.py``.
"""

from __future__ import annotations

import sys
import threading
from typing import Callable, List

import interleave


class Account:
    def __init__(self, number: int, owner: str, balance: int) -> None:
        self.number = number
        self.owner = owner
        self.balance = balance
        self.lock = threading.Lock()


def transfer_unlocked(src: Account, dst: Account, amount: int) -> bool:
    """Buggy: between the check and the withdrawal another transfer can spend the money."""
    if src.balance < amount:
        return False
    src.balance -= amount
    dst.balance += amount
    return True


def transfer_ordered(src: Account, dst: Account, amount: int) -> bool:
    """Fixed: both accounts locked, always the lower account number first."""
    first, second = sorted((src, dst), key=lambda account: account.number)
    with first.lock, second.lock:
        if src.balance < amount:
            return False
        src.balance -= amount
        dst.balance += amount
        return True


def transfer_deadlocking(src: Account, dst: Account, amount: int) -> bool:
    """Deadlocks: the locks are taken in argument order, so opposite transfers take them in
    opposite orders."""
    with src.lock, dst.lock:
        if src.balance < amount:
            return False
        src.balance -= amount
        dst.balance += amount
        return True


Transfer = Callable[[Account, Account, int], bool]


def _run_transfers(transfer: Transfer, alice: Account, jobs: List[tuple]) -> List[Account]:
    """Run each (src, dst, amount) job in its own thread; check no money was made or lost."""
    accounts = sorted({a for job in jobs for a in job[:2]} | {alice}, key=lambda a: a.number)
    total_before = sum(a.balance for a in accounts)
    threads = [
        threading.Thread(target=transfer, args=job, name=f"{job[0].owner}->{job[1].owner}")
        for job in jobs
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a in accounts:
        assert a.balance >= 0, f"{a.owner} is overdrawn: {a.balance}"
    total_after = sum(a.balance for a in accounts)
    assert total_after == total_before, f"money changed: {total_before} before, {total_after} after"
    return accounts


def buggy() -> None:
    """Alice has 100 and sends 80 to Bob and 80 to Carol at the same time."""
    alice, bob, carol = Account(1, "alice", 100), Account(2, "bob", 0), Account(3, "carol", 0)
    _run_transfers(transfer_unlocked, alice, [(alice, bob, 80), (alice, carol, 80)])


def fixed() -> None:
    """The same two transfers plus one in the opposite direction, with ordered locks."""
    alice, bob, carol = Account(1, "alice", 100), Account(2, "bob", 10), Account(3, "carol", 0)
    _run_transfers(transfer_ordered, alice, [(alice, bob, 80), (alice, carol, 80), (bob, alice, 10)])


def deadlocking() -> None:
    """Alice and Bob pay each other at the same time; each transfer locks its source first."""
    alice, bob = Account(1, "alice", 100), Account(2, "bob", 100)
    _run_transfers(transfer_deadlocking, alice, [(alice, bob, 30), (bob, alice, 20)])


def main() -> int:
    ok = True
    for title, body in (("Buggy (check-then-act)", buggy), ("Deadlocking (lock order)", deadlocking)):
        result = interleave.explore(body, executions=2000, seed=0)
        print(f"== {title}: {result.verdict}")
        if result.failure is None:
            ok = False
        else:
            print(result.failure.report)
        print()
    result = interleave.explore(fixed, executions=2000, seed=0)
    print(f"== Fixed (ordered locks): {result.verdict}")
    ok = ok and result.failure is None
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
