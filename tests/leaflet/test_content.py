"""The written content is complete for the vocabulary, cites known sources and is consistent."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from rplcare.errors import KnowledgeError
from rplcare.knowledge.loader import load_knowledge
from rplcare.leaflet.catalog import package_dir
from rplcare.leaflet.content import load_content, parse_content


@pytest.fixture
def raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((package_dir() / "content.yaml").read_text("utf-8"))
    return data


def test_shipped_content_is_valid_and_covers_the_whole_vocabulary() -> None:
    content = load_content()
    vocab = load_knowledge().vocabulary
    assert set(content.tests) == set(vocab.tests)
    assert set(content.interventions) == set(vocab.interventions)
    # Causes and (since knowledge 2026.12.1) risk factors such as lifestyle share one table.
    assert set(content.causes) == set(vocab.causes) | set(vocab.risk_factors)


def test_general_content_covers_what_the_seed_pages_cover() -> None:
    """Definitions, frequency, recurrence, causes, tests, treatment, next pregnancy, support."""
    ids = [s.id for s in load_content().general]
    topics = ("what_is_miscarriage", "how_common", "what_is_rpl", "chances", "causes", "tests",
              "treatment", "next_pregnancy", "feelings", "checked_claims")  # fmt: skip
    for topic in topics:
        assert topic in ids


def test_unknown_reference_is_refused(raw: dict[str, Any]) -> None:
    bad = copy.deepcopy(raw)
    bad["general"][0]["paragraphs"][0]["refs"] = ["no-such-paper"]
    with pytest.raises(KnowledgeError, match="no-such-paper"):
        parse_content(bad, load_knowledge())


def test_placeholder_without_a_number_is_refused(raw: dict[str, Any]) -> None:
    bad = copy.deepcopy(raw)
    bad["general"][0]["paragraphs"][0]["params"] = {}
    with pytest.raises(KnowledgeError, match="placeholders"):
        parse_content(bad, load_knowledge())


def test_missing_plain_language_text_is_refused(raw: dict[str, Any]) -> None:
    bad = copy.deepcopy(raw)
    del bad["tests"]["nk_cells"]
    with pytest.raises(KnowledgeError, match=r"tests\.nk_cells"):
        parse_content(bad, load_knowledge())


def test_chart_age_and_text_age_agree(raw: dict[str, Any]) -> None:
    bad = copy.deepcopy(raw)
    bad["charts"]["risk_by_losses"]["example_age"] = 40
    with pytest.raises(KnowledgeError, match="differs from the chart"):
        parse_content(bad, load_knowledge())


def test_corrected_seed_figures_appear_only_as_corrections() -> None:
    """The seed pages' unsupported figures (80% unexplained; 15% lost after a heartbeat at 7
    weeks; 26% at 40+) may be quoted only in the "checked" section, next to the evidence."""
    content = load_content()
    for s in content.general:
        for p in s.paragraphs:
            if s.id == "checked_claims":
                continue
            for claim in ("80 out of 100", "26 out of 100", "15 out of 100"):
                assert claim not in p.text


def test_every_paragraph_with_an_unverified_source_is_tagged_unverified() -> None:
    """A paragraph citing only ESHRE 2017 recall (not read) cannot claim to be verified."""
    content = load_content()
    for s in content.general:
        for p in s.paragraphs:
            if p.refs == ["eshre-2017"] and s.id == "what_is_rpl":
                assert p.verification == "unverified"
