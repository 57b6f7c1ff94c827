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


class Account:
    def __init__(self, owner, balance):
        self.owner = owner
        self.balance = balance


def transfer(src, dst, amount):
    if src.balance < amount:
        return False
    src.balance -= amount
    dst.balance += amount
    return True


def bank_transfer():
    alice, bob, carol = Account("alice", 100), Account("bob", 0), Account("carol", 0)
    jobs = [(alice, bob, 80), (alice, carol, 80)]
    threads = [threading.Thread(target=transfer, args=job, name=f"{job[0].owner}->{job[1].owner}")
               for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert alice.balance >= 0, f"alice is overdrawn: {alice.balance}"
    assert alice.balance + bob.balance + carol.balance == 100, "money changed"
