"""What a newer knowledge version changes in a stored assessment's advice."""

from __future__ import annotations

from typing import Any

from rplcare.engine.assess import assess
from rplcare.engine.compare import advice_changes
from rplcare.io import load_case


def test_same_version_is_no_change() -> None:
    a = assess(load_case("examples/two-losses-young.json"))
    assert advice_changes(a.to_json_dict(), a) is None


def test_added_removed_changed_and_definitions_are_listed() -> None:
    a = assess(load_case("examples/two-losses-young.json"))
    old: dict[str, Any] = a.to_json_dict()
    old["knowledge_version"] = "2000.1.1"
    workup: list[dict[str, Any]] = old["workup"]
    first, rest = workup[0], workup[1:]
    old["workup"] = [{**first, "recommendation": "not_recommended"}, *rest[1:]]
    old["care_plan"] = [*old["care_plan"], {"id": "gone.tx.x", "recommendation": "consider"}]
    old["definitions"] = {**old["definitions"], "eshre-2022": {"meets": False}}
    changes = advice_changes(old, a)
    assert changes is not None and changes.any
    assert changes.previous_version == "2000.1.1"
    assert (
        f"{first['id']}: not recommended -> {first['recommendation'].replace('_', ' ')}"
        in changes.changed
    )
    assert f"{rest[0]['id']}: {rest[0]['recommendation'].replace('_', ' ')}" in changes.added
    assert "gone.tx.x: consider" in changes.removed
    assert "eshre-2022: not met -> met" in changes.definitions
