"""A bank account: two withdrawals check the balance and then debit it, without a lock.

Both see enough money and both debit: the balance goes negative. The fixed version checks and
debits under the account's lock.
"""

from __future__ import annotations

import threading
from typing import Callable

__all__ = ["BUGGY", "FIXED", "HARD", "check", "setup"]

HARD = False


class Account:
    def __init__(self) -> None:
        self.balance = 100
        self.lock = threading.Lock()


def setup() -> Account:
    return Account()


def withdraw(locked: bool) -> Callable[[Account], None]:
    def take(a: Account) -> None:
        if locked:
            with a.lock:
                if a.balance >= 60:
                    a.balance -= 60
        elif a.balance >= 60:
            a.balance -= 60

    return take


def check(a: Account) -> bool:
    return a.balance >= 0


BUGGY = [withdraw(False), withdraw(False)]
FIXED = [withdraw(True), withdraw(True)]
