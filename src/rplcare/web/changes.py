"""What replacing a couple's case by another would change: fields, and pregnancies and test
results added or removed. Shown before an import updates a couple, and written to the audit."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


def compact(data: Any) -> str:
    """JSON for the audit log: no spaces, keys sorted."""
    return json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


_PARTS = ("patient", "partner", "lifestyle", "current_pregnancy")


def _fields(case: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": case.get("id")}
    for part in _PARTS:
        for name, value in (case.get(part) or {}).items():
            out[f"{part}.{name}"] = value
    return out


def _items(case: dict[str, Any], key: str) -> Counter[str]:
    return Counter(compact(item) for item in case.get(key, []))


@dataclass
class CaseChanges:
    fields: list[tuple[str, Any, Any]] = field(default_factory=list)  # path, before, after
    pregnancies_added: list[dict[str, Any]] = field(default_factory=list)
    pregnancies_removed: list[dict[str, Any]] = field(default_factory=list)
    tests_added: list[dict[str, Any]] = field(default_factory=list)
    tests_removed: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any(
            (
                self.fields,
                self.pregnancies_added,
                self.pregnancies_removed,
                self.tests_added,
                self.tests_removed,
            )
        )

    def audit_detail(self) -> dict[str, Any]:
        return {
            "before": {path: old for path, old, _new in self.fields},
            "after": {path: new for path, _old, new in self.fields},
            "pregnancies": {"added": self.pregnancies_added, "removed": self.pregnancies_removed},
            "tests": {"added": self.tests_added, "removed": self.tests_removed},
        }


def case_changes(old: dict[str, Any], new: dict[str, Any]) -> CaseChanges:
    """`old` and `new` are case documents judged at the same `as_of`. Pregnancies and tests
    are compared as whole entries: an edited entry shows as one removed and one added."""
    changes = CaseChanges()
    before, after = _fields(old), _fields(new)
    for path in sorted(before.keys() | after.keys()):
        if before.get(path) != after.get(path):
            changes.fields.append((path, before.get(path), after.get(path)))
    for key, added, removed in (
        ("pregnancies", changes.pregnancies_added, changes.pregnancies_removed),
        ("tests", changes.tests_added, changes.tests_removed),
    ):
        o, n = _items(old, key), _items(new, key)
        only_new, only_old = n - o, o - n
        added += [item for item in new.get(key, []) if _take(only_new, item)]
        removed += [item for item in old.get(key, []) if _take(only_old, item)]
    return changes


def _take(counter: Counter[str], item: dict[str, Any]) -> bool:
    """Whether `item` is (still) in the multiset `counter`; counts it off if so."""
    key = compact(item)
    if counter[key] > 0:
        counter[key] -= 1
        return True
    return False
