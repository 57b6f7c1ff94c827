"""Counting words with a producer and two consumers on a ``queue.Queue``.

The producer puts lines on the queue, then one ``None`` sentinel per consumer; each consumer
takes lines until it gets its sentinel, calling ``task_done()`` for every item, and the main
thread waits with ``queue.join()`` for every line to be processed.

* ``buggy``: the consumers add their counts straight into one shared dict:
  ``counts[word] = counts.get(word, 0) + 1``. That is a read, then a write: two consumers
  counting the same word at the same time both read 1 and both write 2, and a word is lost.
* ``fixed``: each consumer counts into its own ``collections.Counter`` and merges it into the
  shared total under a lock once, when it sees its sentinel.

Run it: ``python examples/producer_consumer.py``.
"""

from __future__ import annotations

import collections
import queue
import sys
import threading
from typing import Callable, Dict, Optional

import interleave

LINES = ["the cat", "the dog", "a cat"]
EXPECTED = {"the": 2, "cat": 2, "dog": 1, "a": 1}
CONSUMERS = 2


def produce(q: queue.Queue[Optional[str]]) -> None:
    for line in LINES:
        q.put(line)
    for _ in range(CONSUMERS):
        # One "no more work" sentinel per consumer.
        q.put(None)


def consume_buggy(q: queue.Queue[Optional[str]], counts: Dict[str, int], lock: threading.Lock) -> None:
    while True:
        line = q.get()
        if line is None:
            q.task_done()
            return
        for word in line.split():
            # A read, then a write: another consumer can write the same word in between.
            counts[word] = counts.get(word, 0) + 1
        q.task_done()


def consume_fixed(q: queue.Queue[Optional[str]], counts: Dict[str, int], lock: threading.Lock) -> None:
    # Private to this consumer: no other thread touches it, so no lock is needed.
    mine: collections.Counter[str] = collections.Counter()
    while True:
        line = q.get()
        if line is None:
            # One short critical section per consumer, not one per word.
            with lock:
                for word, n in mine.items():
                    counts[word] = counts.get(word, 0) + n
            q.task_done()
            return
        mine.update(line.split())
        q.task_done()


Consumer = Callable[["queue.Queue[Optional[str]]", Dict[str, int], threading.Lock], None]


def _count_words(consume: Consumer) -> None:
    q: queue.Queue[Optional[str]] = queue.Queue()
    counts: Dict[str, int] = {}
    lock = threading.Lock()
    threads = [threading.Thread(target=produce, args=(q,), name="producer")]
    threads += [
        threading.Thread(target=consume, args=(q, counts, lock), name=f"consumer-{i}")
        for i in range(1, CONSUMERS + 1)
    ]
    for t in threads:
        t.start()
    # Returns once every line and every sentinel has been task_done().
    q.join()
    for t in threads:
        t.join()
    assert counts == EXPECTED, f"word counts are wrong: {counts}"


def buggy() -> None:
    """Two consumers update one shared dict without a lock."""
    _count_words(consume_buggy)


def fixed() -> None:
    """Each consumer counts privately and merges once under a lock."""
    _count_words(consume_fixed)


def main() -> int:
    result = interleave.explore(buggy, executions=2000, seed=0)
    print(f"== Buggy (shared dict, no lock): {result.verdict}")
    if result.failure is not None:
        print(result.failure.report)
    print()
    fixed_result = interleave.explore(fixed, executions=2000, seed=0)
    print(f"== Fixed (private counts, merged under a lock): {fixed_result.verdict}")
    return 0 if result.failure is not None and fixed_result.failure is None else 1


if __name__ == "__main__":
    sys.exit(main())
