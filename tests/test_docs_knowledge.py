"""docs/knowledge.md carries the current `rplcare knowledge stats` table."""

from __future__ import annotations

import re
from pathlib import Path

from rplcare.knowledge.loader import load_knowledge
from rplcare.knowledge.stats import knowledge_stats, stats_markdown

DOC = Path(__file__).parent.parent / "docs" / "knowledge.md"


def test_docs_table_equals_the_stats_command() -> None:
    text = DOC.read_text("utf-8")
    found = re.search(r"<!-- stats:begin -->\n(.*?)\n<!-- stats:end -->", text, re.S)
    assert found, "docs/knowledge.md lost its stats markers"
    assert found.group(1).strip() == stats_markdown(knowledge_stats(load_knowledge())).strip()


def test_issue_13_targets_hold() -> None:
    """Unverified at most 15 %; ESHRE + ASRM at most 25 unverified while keeping at least 70
    items; NVOG at least 25 verified items; no strength reads 'recalled'."""
    kb = load_knowledge()
    stats = knowledge_stats(kb)
    by = stats["by_guideline"]
    assert isinstance(by, dict)
    overall = stats["by_verification"]
    assert isinstance(overall, dict)
    assert overall["unverified"] <= 0.15 * stats["items"]  # type: ignore[operator]
    eshre, asrm = by["eshre-2022"], by["asrm-2012"]
    assert eshre["unverified"] + asrm["unverified"] <= 25
    assert sum(eshre.values()) + sum(asrm.values()) >= 70
    assert by["nvog"]["verified"] >= 25
    assert not [
        i.id for i in [*kb.investigations, *kb.treatments] if "recall" in i.strength.lower()
    ]
