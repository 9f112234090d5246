"""Clinic pathway profiles: which guidelines are shown, in which order, and local eligibility."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from rplcare.cli import app
from rplcare.engine.assess import assess
from rplcare.errors import InputError, KnowledgeError
from rplcare.knowledge.loader import load_knowledge
from rplcare.knowledge.profile import Profile, load_profile, parse_profile, shipped_profiles
from tests.factories import case, losses, preg

KB = load_knowledge()
RULE = "se-publicly-funded-workup"


def eligibility(c: Any) -> tuple[bool | None, list[str]]:
    profile = load_profile("sweden-regional", KB)
    a = assess(c, KB, profile=profile)
    assert a.profile is not None
    (rule,) = [r for r in a.profile.eligibility if r.id == RULE]
    return rule.met, rule.reasons


def test_every_shipped_profile_is_valid() -> None:
    names = shipped_profiles()
    assert {"netherlands-nvog", "norway-ngf", "united-kingdom-rcog", "international"} <= set(names)
    for name in names:
        profile = load_profile(name, KB)
        assert profile.check(KB) == []


def test_international_profile_shows_what_no_profile_shows() -> None:
    c = case(losses(3), patient={"age": 36})
    plain = assess(c, KB)
    international = assess(c, KB, profile=load_profile("international", KB))
    assert set(plain.definitions) == set(international.definitions) == set(KB.definitions)
    assert {w.id for w in plain.workup} == {w.id for w in international.workup}
    assert {x.id for x in plain.care_plan} == {x.id for x in international.care_plan}


def test_netherlands_profile_shows_nvog_first_and_nothing_else() -> None:
    profile = load_profile("netherlands-nvog", KB)
    a = assess(case(losses(2)), KB, profile=profile)
    assert list(a.definitions) == ["nvog", "eshre-2022"]
    shown = [w.guideline for w in a.workup] + [x.guideline for x in a.care_plan]
    assert set(shown) <= set(profile.guidelines)
    assert a.workup[0].guideline == "nvog"
    order = [profile.guidelines.index(w.guideline) for w in a.workup]
    assert order == sorted(order)
    assert a.profile is not None and a.profile.primary == "nvog"


def test_united_kingdom_profile_evaluates_at_rcog_discretion() -> None:
    a = assess(case(losses(2)), KB, profile=load_profile("united-kingdom-rcog", KB))
    assert list(a.definitions) == ["rcog-2023"]
    assert a.definitions["rcog-2023"].evaluation == "discretionary"
    assert all(w.guideline == "rcog-2023" for w in a.workup)


def test_swedish_rule_met_with_three_consecutive_losses_in_the_window() -> None:
    c = case(losses(3), patient={"age": 36}, partner={"age": 40})
    met, reasons = eligibility(c)
    assert met is True, reasons


@pytest.mark.parametrize(
    ("pregnancies", "extra", "expected"),
    [
        # a loss before 6 weeks does not count
        ([*losses(2), preg("miscarriage", "2024-01-10", 5)], {}, False),
        # a live birth ends the run
        (
            [
                *losses(2),
                preg("live_birth", "2023-05-01", 39),
                preg("miscarriage", "2024-05-01", 8),
            ],
            {},
            False,
        ),
        # the woman is 38
        (losses(3), {"patient": {"age": 38}}, False),
        # the partner's age is not recorded: cannot tell
        (losses(3), {"partner": None}, None),
        # the man is 53
        (losses(3), {"partner": {"age": 53}}, False),
    ],
)
def test_swedish_rule_edges(
    pregnancies: list[dict[str, Any]], extra: dict[str, Any], expected: bool | None
) -> None:
    fields: dict[str, Any] = {"patient": {"age": 35}, "partner": {"age": 40}, **extra}
    if fields["partner"] is None:
        del fields["partner"]
    met, reasons = eligibility(case(pregnancies, **fields))
    assert met is expected, reasons


def _profile_raw(**change: Any) -> dict[str, Any]:
    raw = {
        "schema": "rplcare.profile/1",
        "id": "test",
        "name": "Test",
        "description": "test",
        "clinic": {"name": "Test clinic", "contact": "0123"},
        "guidelines": ["rcog-2023", "nice-ng126"],
        "primary": "rcog-2023",
    }
    raw.update(change)
    return raw


def test_bad_profiles_are_refused_with_clear_messages(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="primary 'nvog' is not among"):
        parse_profile(_profile_raw(primary="nvog"), "x.yaml", KB)
    with pytest.raises(KnowledgeError, match="unknown guideline 'who-2030'"):
        parse_profile(_profile_raw(guidelines=["rcog-2023", "who-2030"]), "x.yaml", KB)
    with pytest.raises(InputError, match="surprise"):
        parse_profile(_profile_raw(surprise=1), "x.yaml", KB)
    with pytest.raises(InputError, match="no such profile"):
        load_profile("atlantis", KB)
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: [", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML"):
        load_profile(str(bad), KB)


def test_cli_profile_option(tmp_path: Path) -> None:
    runner = CliRunner()
    own = tmp_path / "clinic.yaml"
    own.write_text(yaml.safe_dump(_profile_raw()), encoding="utf-8")
    r = runner.invoke(
        app, ["assess", "examples/two-losses-young.json", "-p", str(own), "-f", "json"]
    )
    assert r.exit_code == 0, r.output
    assert '"primary": "rcog-2023"' in r.output
    r = runner.invoke(app, ["assess", "examples/two-losses-young.json", "--profile", "atlantis"])
    assert r.exit_code == 2
    assert "no such profile" in r.output and "Traceback" not in r.output


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(sorted(KB.guidelines)), min_size=1, unique=True))
def test_any_guideline_subset_shows_only_those_guidelines(guidelines: list[str]) -> None:
    profile = Profile.model_validate(_profile_raw(guidelines=guidelines, primary=guidelines[0]))
    a = assess(case(losses(3), patient={"age": 34}), KB, profile=profile)
    assert set(a.definitions) == {g for g in guidelines if g in KB.definitions}
    assert {w.guideline for w in a.workup} | {x.guideline for x in a.care_plan} <= set(guidelines)


def test_national_miscarriage_limit_is_cited_and_carried_into_the_assessment() -> None:
    limit = {"weeks": 22, "citation": {"ref": "no-such-ref"}, "verification": "secondary"}
    with pytest.raises(KnowledgeError, match="miscarriage_limit: unknown reference"):
        parse_profile(_profile_raw(miscarriage_limit=limit), "x.yaml", KB)
    with pytest.raises(InputError, match=r"miscarriage_limit\.weeks"):
        parse_profile(_profile_raw(miscarriage_limit={**limit, "weeks": 12}), "x.yaml", KB)
    c = case(losses(3))
    swedish = assess(c, KB, profile=load_profile("sweden-regional", KB)).profile
    assert swedish is not None
    assert (swedish.miscarriage_limit_weeks, swedish.miscarriage_limit_ref) == (
        22,
        "internetmedicin-2022",
    )
    dutch = assess(c, KB, profile=load_profile("netherlands-nvog", KB)).profile
    assert dutch is not None and dutch.miscarriage_limit_weeks is None
