"""Priorities act: export order, per-object cadence and top-priority objects (pure functions)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from vaultkeeper.models import ObjectSpec
from vaultkeeper.policies import Process, load_policies
from vaultkeeper.services.export import resolve_order
from vaultkeeper.services.processes import (
    by_priority,
    object_cadences,
    priority_objects,
    priority_order,
)

H, D = timedelta(hours=1), timedelta(days=1)


def proc(name: str, priority: int, objects: tuple[str, ...], rpo: timedelta = D) -> Process:
    return Process(name=name, title=name, priority=priority, rto=D, rpo=rpo, objects=objects)


CASES = [
    ("empty", [], []),
    ("rank wins over file order",
     [proc("news", 3, ("contacts", "lists")), proc("gifts", 1, ("deals", "contacts"))],
     ["deals", "contacts", "lists"]),
    ("ties keep the order the policy names them",
     [proc("a", 2, ("notes", "companies")), proc("b", 2, ("tickets",))],
     ["notes", "companies", "tickets"]),
    ("an object takes the best rank of any process needing it",
     [proc("a", 4, ("notes", "calls")), proc("b", 1, ("calls",)), proc("c", 2, ("emails",))],
     ["calls", "emails", "notes"]),
]


@pytest.mark.parametrize(("processes", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_priority_order(processes: list[Process], expected: list[str]) -> None:
    assert priority_order(processes) == expected


def test_object_cadence_is_the_tightest_rpo() -> None:
    processes = [proc("news", 3, ("contacts",), rpo=7 * D),
                 proc("gifts", 1, ("contacts", "deals"), rpo=4 * H),
                 proc("notes", 2, ("notes", "deals"), rpo=2 * D)]
    assert object_cadences(processes) == {"contacts": 4 * H, "deals": 4 * H, "notes": 2 * D}
    assert list(object_cadences(processes)) == ["contacts", "deals", "notes"]


def test_priority_objects_and_restore_order() -> None:
    processes = [proc("news", 3, ("lists",)), proc("gifts", 1, ("deals",)),
                 proc("members", 1, ("contacts",)), proc("events", 2, ("notes",))]
    assert priority_objects(processes, 1) == ["deals", "contacts"]
    assert priority_objects(processes, 2) == ["deals", "contacts", "notes"]
    assert [p.name for p in by_priority(processes)] == ["gifts", "members", "events", "news"]


def spec(name: str) -> ObjectSpec:
    return ObjectSpec(name=name, primary_key="id", properties=())


SPECS = [spec(n) for n in ("calls", "companies", "contacts", "deals", "notes", "tickets")]


@pytest.mark.parametrize(("objects", "exclude", "priority", "expected"), [
    ((), (), (), ["contacts", "companies", "calls", "deals", "notes", "tickets"]),
    ((), (), ("deals", "notes"), ["deals", "notes", "contacts", "companies", "calls", "tickets"]),
    ((), ("deals",), ("deals", "notes"), ["notes", "contacts", "companies", "calls", "tickets"]),
    (("tickets", "notes", "deals"), (), ("deals", "contacts"), ["deals", "tickets", "notes"]),
    ((), (), ("volunteer_shifts", "tickets"),
     ["tickets", "contacts", "companies", "calls", "deals", "notes"]),
], ids=["no priority", "priority first", "excluded stays out", "selection kept",
        "unknown priority object ignored"])
def test_export_order_follows_priority(objects: tuple[str, ...], exclude: tuple[str, ...],
                                       priority: tuple[str, ...], expected: list[str]) -> None:
    order = resolve_order(SPECS, ("contacts", "companies"), objects, exclude, priority)
    assert [s.name for s in order] == expected


def test_default_processes_put_membership_and_donations_first() -> None:
    processes = load_policies(None).processes
    assert priority_order(processes)[:3] == ["contacts", "companies", "deals"]
    cadences = object_cadences(processes)
    assert cadences["contacts"] == D and cadences["notes"] == D
