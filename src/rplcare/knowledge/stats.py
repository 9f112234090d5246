"""How much of the knowledge base was read where: counts by verification tag, per guideline."""

from __future__ import annotations

from collections import Counter

from rplcare.knowledge.loader import KnowledgeBase
from rplcare.knowledge.schema import Verification

TAGS = tuple(v.value for v in Verification)


def knowledge_stats(kb: KnowledgeBase) -> dict[str, object]:
    """`{"items", "knowledge_version", "by_verification", "by_guideline"}` over every
    investigation and treatment item (definitions and thresholds are not items)."""
    items = [*kb.investigations, *kb.treatments]
    overall = Counter(i.verification.value for i in items)
    per: dict[str, Counter[str]] = {g: Counter() for g in kb.guidelines}
    for i in items:
        per[i.guideline][i.verification.value] += 1
    return {
        "knowledge_version": kb.version,
        "items": len(items),
        "by_verification": {t: overall[t] for t in TAGS},
        "by_guideline": {g: {t: c[t] for t in TAGS} for g, c in per.items() if sum(c.values())},
    }


def stats_markdown(stats: dict[str, object]) -> str:
    """The same numbers as a Markdown table (docs/knowledge.md carries it)."""
    by_guideline = stats["by_guideline"]
    overall = stats["by_verification"]
    assert isinstance(by_guideline, dict) and isinstance(overall, dict)
    lines = [
        "| guideline | items | verified | secondary | unverified |",
        "|---|---:|---:|---:|---:|",
    ]
    for gid, counts in by_guideline.items():
        total = sum(counts.values())
        lines.append(f"| {gid} | {total} | " + " | ".join(str(counts[t]) for t in TAGS) + " |")
    items = stats["items"]
    assert isinstance(items, int)
    share = overall["unverified"] / items if items else 0.0
    lines.append(
        f"| **all** | **{stats['items']}** | "
        + " | ".join(f"**{overall[t]}**" for t in TAGS)
        + " |"
    )
    lines.append("")
    lines.append(f"Knowledge base {stats['knowledge_version']}: {share:.1%} of items unverified.")
    return "\n".join(lines)
