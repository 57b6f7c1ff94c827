"""A fixed program whose failure report the tests pin (keep the line numbers stable)."""

import threading


class Counter:
    def __init__(self):
        self.value = 0

    def increment(self):
        self.value += 1


def lost_update():
    counter = Counter()
    threads = [threading.Thread(target=counter.increment) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.value == 2, counter.value


def deadlock():
    a = threading.Lock()
    b = threading.Lock()

    def one():
        with a:
            with b:
                pass

    def two():
        with b:
            with a:
                pass

    threads = [threading.Thread(target=one), threading.Thread(target=two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
