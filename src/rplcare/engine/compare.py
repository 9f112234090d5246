"""What a newer knowledge version changes in a couple's advice: the work-up, care plan and
definitions of a stored assessment (its JSON payload) against a fresh one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rplcare.engine.assessment import Assessment


@dataclass(frozen=True)
class AdviceChanges:
    previous_version: str
    current_version: str
    added: tuple[str, ...]  # "item id: position"
    removed: tuple[str, ...]
    changed: tuple[str, ...]  # "item id: old -> new"
    definitions: tuple[str, ...]  # "guideline: met -> not met"

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.definitions)


def _positions(rows: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for row in rows or []:
        if isinstance(row, Mapping) and "id" in row:
            out[str(row["id"])] = str(row.get("recommendation", "")).replace("_", " ")
    return out


def _met(flag: object) -> str:
    return "met" if flag else "not met"


def advice_changes(previous: Mapping[str, Any], current: Assessment) -> AdviceChanges | None:
    """None when the stored assessment was made with the same knowledge version."""
    old_version = str(previous.get("knowledge_version", "unknown"))
    if old_version == current.knowledge_version:
        return None
    old = {**_positions(previous.get("workup")), **_positions(previous.get("care_plan"))}
    new = {w.id: w.recommendation.replace("_", " ") for w in current.workup}
    new |= {c.id: c.recommendation.replace("_", " ") for c in current.care_plan}
    old_defs = previous.get("definitions") or {}
    definitions = tuple(
        f"{gid}: {_met(old_defs[gid].get('meets'))} -> {_met(d.meets)}"
        for gid, d in current.definitions.items()
        if isinstance(old_defs.get(gid), Mapping) and bool(old_defs[gid].get("meets")) != d.meets
    )
    return AdviceChanges(
        previous_version=old_version,
        current_version=current.knowledge_version,
        added=tuple(f"{i}: {new[i]}" for i in sorted(new.keys() - old.keys())),
        removed=tuple(f"{i}: {old[i]}" for i in sorted(old.keys() - new.keys())),
        changed=tuple(
            f"{i}: {old[i]} -> {new[i]}"
            for i in sorted(old.keys() & new.keys())
            if old[i] != new[i]
        ),
        definitions=definitions,
    )
