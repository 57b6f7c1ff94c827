"""Clocks a module keeps from import: bound datetime methods, a default, a closure, a dataclass factory."""

import time
from dataclasses import dataclass, field
from datetime import datetime

_now = datetime.now


def stamp(clock=datetime.now):
    return clock()


def _make_reader():
    clock = time.monotonic

    def read():
        return clock()

    return read


read_monotonic = _make_reader()


@dataclass
class Job:
    created: datetime = field(default_factory=datetime.now)

    def age_seconds(self) -> float:
        return (datetime.now() - self.created).total_seconds()
