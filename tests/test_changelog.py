"""The knowledge changelog names every difference from the previous knowledge version."""

from __future__ import annotations

import json
from pathlib import Path

from rplcare.knowledge.changelog import differences, fingerprints, load_changelog
from rplcare.knowledge.loader import load_knowledge

SNAPSHOT = Path(__file__).parent / "data" / "knowledge-2026.11.1.json"
VIGNETTES = Path(__file__).parent / "vignettes"


def test_latest_version_is_the_knowledge_version() -> None:
    assert load_changelog().latest().version == load_knowledge().version


def test_every_difference_from_the_previous_version_has_an_entry() -> None:
    old = json.loads(SNAPSHOT.read_text("utf-8"))
    assert old["knowledge_version"] != load_knowledge().version
    found = differences(old, fingerprints(load_knowledge()))
    logged = {(c.section, c.id, c.change) for c in load_changelog().latest().changes}
    assert found - logged == set(), "changed without a changelog entry"
    assert logged - found == set(), "changelog entries for things that did not change"


def test_entries_say_what_why_and_source() -> None:
    for c in load_changelog().latest().changes:
        assert c.what.strip() and c.why.strip() and c.source.strip(), c.id


def test_changed_vignettes_exist() -> None:
    for v in load_changelog().latest().vignettes_changed:
        assert (VIGNETTES / v.vignette / "expected.yaml").is_file(), v.vignette


def test_fingerprints_notice_a_change() -> None:
    kb = load_knowledge()
    before = fingerprints(kb)
    item = kb.investigations[0]
    changed = item.model_copy(update={"statement": item.statement + " (edited)"})
    after = fingerprints(
        type(kb)(**{**kb.__dict__, "investigations": (changed, *kb.investigations[1:])})
    )
    assert differences(before, after) == {("items", item.id, "changed")}
