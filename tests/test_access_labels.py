"""Reports name the real type of an attribute's owner, also when the owner came from a call.

``getattr(holder, "inner").x``, ``type(holder.inner).count``, ``cache.get("k").x`` and
``super().x`` are attribute chains whose owner the analysis can know without running code; an
owner it cannot know is shown as ``?.x``, never as ``NoneType.x``.
"""

from __future__ import annotations

import threading
from typing import Callable

import pytest

import interleave
from interleave.instrument.access import Access
from interleave.instrument.access.models import super_read
from interleave.instrument.access.vocabulary import Super


class Inner:
    count = 0

    def __init__(self) -> None:
        self.x = 0


class Holder:
    def __init__(self) -> None:
        self.inner = Inner()
        self.cache = {"k": Inner()}


def _two_threads(step: Callable[[Holder], None]) -> Callable[[], None]:
    def body() -> None:
        Inner.count = 0
        holder = Holder()
        ts = [threading.Thread(target=step, args=(holder,)) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert holder.inner.x + holder.cache["k"].x + Inner.count == 2

    return body


def _through_getattr(holder: Holder) -> None:
    getattr(holder, "inner").x += 1  # noqa: B009 - the chain under test


def _through_type(holder: Holder) -> None:
    type(holder.inner).count += 1


def _through_dict_get(holder: Holder) -> None:
    holder.cache.get("k").x += 1  # type: ignore[union-attr]


@pytest.mark.parametrize(("step", "location"), [(_through_getattr, "Inner.x"), (_through_type, "Inner.count"),
                                                (_through_dict_get, "Inner.x")])
def test_a_race_on_an_attribute_of_a_computed_owner_names_its_type(step: Callable[[Holder], None],
                                                                   location: str) -> None:
    r = interleave.explore(_two_threads(step), strategy="dpor", races="report", executions=50)
    assert location in {x.location for x in r.races}, [x.describe() for x in r.races]


def test_the_failure_report_names_the_owner_of_an_attribute_through_getattr() -> None:
    r = interleave.explore(_two_threads(_through_getattr), strategy="dpor", executions=50)
    assert r.failure is not None
    report = r.failure.report
    assert "lost update of Inner.x" in report
    assert "?.x" not in report and "NoneType" not in report


class Base:
    limit = 3


class Derived(Base):
    def read_limit(self) -> int:
        return super().limit


def test_an_attribute_read_through_super_is_labelled_by_the_instance_type() -> None:
    acc = super_read(Super(Derived, Derived()), "limit")
    assert acc.locs == ((("a", id(Base), "limit"), False),)
    assert acc.label == "Derived.limit"


def test_an_attribute_of_an_unknown_object_is_labelled_with_a_question_mark() -> None:
    assert Access("read", ((("A", "x"), False),), name="x", space="attr").label == "?.x"
