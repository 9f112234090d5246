"""The knowledge changelog: every item, definition, threshold or statement added, changed or
removed in a knowledge version, with what changed, why and the source.

`fingerprints` gives a stable hash of each piece, so a test can compare the knowledge base with
a snapshot of the previous version and demand an entry for every difference.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

from rplcare.knowledge.loader import KnowledgeBase

Section = Literal["items", "definitions", "thresholds", "statements", "history"]


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    section: Section = "items"
    id: str
    change: Literal["added", "changed", "removed"]
    what: str
    why: str
    source: str


class VignetteChange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    vignette: str
    why: str


class Version(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str
    date: date
    summary: str
    changes: list[Change]
    vignettes_changed: list[VignetteChange] = []


class Changelog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_version: Literal[1]
    versions: list[Version]

    def latest(self) -> Version:
        return self.versions[0]


@cache
def load_changelog() -> Changelog:
    text = resources.files("rplcare.knowledge").joinpath("changelog.yaml").read_text("utf-8")
    return Changelog.model_validate(yaml.safe_load(text))


def _hash(model: BaseModel) -> str:
    data = model.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def fingerprints(kb: KnowledgeBase) -> dict[str, dict[str, str]]:
    """Section -> id -> hash of its canonical JSON (defaults left out, so a new optional
    field does not change every item)."""
    h = kb.history
    return {
        "items": {i.id: _hash(i) for i in [*kb.investigations, *kb.treatments]},
        "definitions": {k: _hash(d) for k, d in kb.definitions.items()},
        "thresholds": {k: _hash(t) for k, t in kb.thresholds.items()},
        "statements": {k: _hash(s) for k, s in kb.statements.items()},
        "history": {
            "second_trimester_from_weeks": _hash(h.second_trimester_from_weeks),
            "viability_weeks": _hash(h.viability_weeks),
            "kind_rule": _hash(h.kind_rule),
        },
    }


def differences(
    old: dict[str, dict[str, str]], new: dict[str, dict[str, str]]
) -> set[tuple[str, str, str]]:
    """(section, id, added|changed|removed) for every difference between two fingerprints."""
    out: set[tuple[str, str, str]] = set()
    for section in new:
        o, n = old.get(section, {}), new[section]
        out |= {(section, k, "added") for k in n.keys() - o.keys()}
        out |= {(section, k, "removed") for k in o.keys() - n.keys()}
        out |= {(section, k, "changed") for k in o.keys() & n.keys() if o[k] != n[k]}
    return out
