"""The knowledge base: schema, cross-file invariants, coverage of the guideline rows."""

from __future__ import annotations

import copy
from collections import Counter
from importlib import resources
from typing import Any

import pytest
import yaml

from rplcare.errors import KnowledgeError
from rplcare.knowledge.loader import ALL_FILES, load_knowledge, load_knowledge_from
from rplcare.knowledge.schema import Threshold

KB = load_knowledge()


def raw_files() -> dict[str, Any]:
    root = resources.files("rplcare.knowledge")
    return {name: yaml.safe_load(root.joinpath(name).read_text("utf-8")) for name in ALL_FILES}


def test_packaged_knowledge_loads_and_has_content() -> None:
    assert len(KB.investigations) >= 60
    assert len(KB.treatments) >= 50
    assert KB.version


def test_every_item_has_citation_and_verification() -> None:
    for item in [*KB.investigations, *KB.treatments]:
        assert item.citation.ref in KB.references, item.id
        assert item.verification.value in {"verified", "secondary", "unverified"}
        assert item.statement.strip(), item.id
        assert item.strength.strip(), item.id


def test_unverified_items_say_why() -> None:
    """An unverified item must carry a note on what could not be confirmed."""
    for item in [*KB.investigations, *KB.treatments]:
        if item.verification.value == "unverified":
            assert item.citation.note, item.id


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda f: f["investigations.yaml"]["items"][0].update(test="no_such_test"),
            "not in vocabulary",
        ),
        (
            lambda f: f["investigations.yaml"]["items"][0]["citation"].update(ref="nope"),
            "not in references",
        ),
        (
            lambda f: f["treatments.yaml"]["items"][0].update(guideline="who-2099"),
            "guideline 'who-2099' unknown",
        ),
        (
            lambda f: f["treatments.yaml"]["items"][0].update(intervention="magic"),
            "not in vocabulary",
        ),
        (
            lambda f: f["treatments.yaml"]["items"][0].update(
                when={"all": [{"fact": "lossess", "ge": 1}]}
            ),
            "unknown fact 'lossess'",
        ),
        (
            lambda f: f["treatments.yaml"]["items"][0].update(
                when={"all": [{"fact": "losses_total"}]}
            ),
            "exactly one operator",
        ),
        (
            lambda f: f["investigations.yaml"]["items"].append(
                f["investigations.yaml"]["items"][0]
            ),
            "duplicate id",
        ),
        (
            lambda f: f["investigations.yaml"]["items"][0].update(verification="probably"),
            "verification",
        ),
        (
            lambda f: f["investigations.yaml"]["items"][0].update(recommendation="maybe"),
            "recommendation",
        ),
        (
            lambda f: f["findings.yaml"]["thresholds"]["aps.persistence_weeks"].pop("citation"),
            "citation",
        ),
        (lambda f: f["investigations.yaml"]["items"][0].update(surprise=1), "surprise"),
        (
            lambda f: f["investigations.yaml"]["items"][0].update(id="rcog-2023.inv.x"),
            "must start with",
        ),
    ],
)
def test_schema_and_invariants_reject_broken_knowledge(mutate: Any, message: str) -> None:
    files = copy.deepcopy(raw_files())
    mutate(files)
    with pytest.raises(KnowledgeError) as exc:
        load_knowledge_from(files)
    assert message in str(exc.value)


def test_all_problems_are_reported_together() -> None:
    files = copy.deepcopy(raw_files())
    files["investigations.yaml"]["items"][0]["test"] = "x1"
    files["investigations.yaml"]["items"][1]["test"] = "x2"
    with pytest.raises(KnowledgeError) as exc:
        load_knowledge_from(files)
    assert len(exc.value.problems) == 2


# Rows of guidelines.md that the issue asks to cover: topic -> (guideline, kind, code).
REQUIRED_ROWS = [
    # ESHRE 1.3 investigations (those with a stated position)
    ("eshre-2022", "test", "lupus_anticoagulant"),
    ("eshre-2022", "test", "anticardiolipin_igg"),
    ("eshre-2022", "test", "anti_b2gpi_igg"),
    ("eshre-2022", "test", "factor_v_leiden"),
    ("eshre-2022", "test", "hla_typing"),
    ("eshre-2022", "test", "hla_class_ii"),
    ("eshre-2022", "test", "anti_hy_antibodies"),
    ("eshre-2022", "test", "cytokines"),
    ("eshre-2022", "test", "cytokine_polymorphisms"),
    ("eshre-2022", "test", "ana"),
    ("eshre-2022", "test", "nk_cells"),
    ("eshre-2022", "test", "anti_hla_antibodies"),
    ("eshre-2022", "test", "tsh"),
    ("eshre-2022", "test", "tpo_antibodies"),
    ("eshre-2022", "test", "free_t4"),
    ("eshre-2022", "test", "prolactin"),
    ("eshre-2022", "test", "ovarian_reserve"),
    ("eshre-2022", "test", "luteal_phase_testing"),
    ("eshre-2022", "test", "insulin_resistance"),
    ("eshre-2022", "test", "mthfr"),
    ("eshre-2022", "test", "uterine_imaging"),
    ("eshre-2022", "test", "poc_karyotype"),
    ("eshre-2022", "test", "karyotype_female"),
    ("eshre-2022", "test", "sperm_dna_fragmentation"),
    # ESHRE 1.4 treatments
    ("eshre-2022", "intervention", "low_dose_aspirin"),
    ("eshre-2022", "intervention", "heparin"),
    ("eshre-2022", "intervention", "antithrombotic_prophylaxis"),
    ("eshre-2022", "intervention", "vaginal_progesterone"),
    ("eshre-2022", "intervention", "hcg"),
    ("eshre-2022", "intervention", "levothyroxine"),
    ("eshre-2022", "intervention", "bromocriptine"),
    ("eshre-2022", "intervention", "hysteroscopic_septum_resection"),
    ("eshre-2022", "intervention", "immunotherapy"),
    ("eshre-2022", "intervention", "preimplantation_genetic_testing"),
    ("eshre-2022", "intervention", "smoking_cessation"),
    ("eshre-2022", "intervention", "psychological_support"),
    ("eshre-2022", "intervention", "early_pregnancy_scan"),
    ("eshre-2022", "intervention", "supportive_care"),
    # RCOG 2.2 investigations
    ("rcog-2023", "test", "lupus_anticoagulant"),
    ("rcog-2023", "test", "anticardiolipin_igg"),
    ("rcog-2023", "test", "factor_v_leiden"),
    ("rcog-2023", "test", "prothrombin_g20210a"),
    ("rcog-2023", "test", "protein_s"),
    ("rcog-2023", "test", "protein_c"),
    ("rcog-2023", "test", "antithrombin"),
    ("rcog-2023", "test", "mthfr"),
    ("rcog-2023", "test", "poc_karyotype"),
    ("rcog-2023", "test", "karyotype_female"),
    ("rcog-2023", "test", "karyotype_male"),
    ("rcog-2023", "test", "uterine_imaging"),
    ("rcog-2023", "test", "tsh"),
    ("rcog-2023", "test", "tpo_antibodies"),
    ("rcog-2023", "test", "nk_cells"),
    ("rcog-2023", "test", "hla_typing"),
    ("rcog-2023", "test", "cytokines"),
    ("rcog-2023", "test", "infection_screening"),
    ("rcog-2023", "test", "sperm_dna_fragmentation"),
    # RCOG 2.3 treatments
    ("rcog-2023", "intervention", "vaginal_progesterone"),
    ("rcog-2023", "intervention", "low_dose_aspirin"),
    ("rcog-2023", "intervention", "heparin"),
    ("rcog-2023", "intervention", "levothyroxine"),
    ("rcog-2023", "intervention", "early_pregnancy_scan"),
    # ASRM 3
    ("asrm-2012", "test", "karyotype_female"),
    ("asrm-2012", "test", "uterine_imaging"),
    ("asrm-2012", "test", "anti_b2gpi_igg"),
    ("asrm-2012", "test", "tsh"),
    ("asrm-2012", "test", "prolactin"),
    ("asrm-2012", "test", "hba1c"),
    ("asrm-2012", "intervention", "heparin"),
    ("asrm-2012", "intervention", "supportive_care"),
    ("asrm-2012", "intervention", "genetic_counselling"),
    ("asrm-2012", "intervention", "preimplantation_genetic_testing"),
    ("asrm-2024-septum", "intervention", "hysteroscopic_septum_resection"),
    ("asrm-2015-thyroid", "intervention", "levothyroxine"),
    # NICE 4
    ("nice-ng126", "intervention", "vaginal_progesterone"),
    # thyroid 7 (ATA 2017 Rec. 29)
    ("ata-2017", "intervention", "levothyroxine"),
]


@pytest.mark.parametrize(("guideline", "kind", "code"), REQUIRED_ROWS)
def test_guideline_rows_are_covered(guideline: str, kind: str, code: str) -> None:
    if kind == "test":
        found = any(i.guideline == guideline and i.test == code for i in KB.investigations)
    else:
        found = any(t.guideline == guideline and t.intervention == code for t in KB.treatments)
    assert found, f"no {kind} item for {code} under {guideline}"


def test_contract_interventions_exist_in_vocabulary() -> None:
    required = {
        "low_dose_aspirin", "heparin", "levothyroxine", "vaginal_progesterone",
        "genetic_counselling", "preimplantation_genetic_testing",
        "hysteroscopic_septum_resection", "smoking_cessation", "weight_management",
        "alcohol_reduction", "caffeine_reduction", "psychological_support", "early_pregnancy_scan",
    }  # fmt: skip
    used = {t.intervention for t in KB.treatments}
    assert required <= used


def test_verification_tags_match_the_reference_sheets() -> None:
    """Spot checks of tags copied from the reference sheets (the check files win)."""
    by_id = {i.id: i for i in [*KB.investigations, *KB.treatments]}
    assert by_id["eshre-2022.inv.nk-cells"].verification.value == "verified"
    assert by_id["eshre-2022.inv.nk-cells"].strength == "Strong"
    assert by_id["eshre-2022.inv.nk-cells"].evidence_quality == "⊕○○○"
    # 2026.12.1: a guideline-comparison review states the position (group statement)
    assert by_id["eshre-2022.inv.lupus-anticoagulant"].verification.value == "secondary"
    assert by_id["eshre-2022.inv.anti-b2gpi-igg"].verification.value == "unverified"
    assert by_id["eshre-2022.tx.aps-aspirin-2-losses"].only_in_research
    assert by_id["eshre-2022.tx.aps-aspirin-3-losses"].strength == "Conditional"
    assert by_id["eshre-2022.tx.aps-aspirin-2-losses"].recommendation.value == "not_recommended"
    assert by_id["rcog-2023.tx.aps-heparin"].verification.value == "secondary"
    assert by_id["rcog-2023.inv.uterine-imaging"].strength == "Grade B"
    assert by_id["nice-ng126.tx.progesterone-bleeding"].verification.value == "secondary"


def test_each_test_and_intervention_has_one_item_per_guideline_condition() -> None:
    """Two items for the same guideline and topic must differ in their conditions."""
    keys = Counter(
        (i.guideline, i.test, i.model_dump_json(include={"when"})) for i in KB.investigations
    )
    assert [k for k, n in keys.items() if n > 1] == []


@pytest.mark.parametrize("key", sorted(KB.thresholds))
def test_threshold_boundaries(key: str) -> None:
    """Every threshold just below, at and just above its value, per its declared closure."""
    t: Threshold = KB.thresholds[key]
    eps = 1e-6
    below, at, above = t.holds(t.value - eps), t.holds(t.value), t.holds(t.value + eps)
    expected = {
        "gt": (False, False, True),
        "ge": (False, True, True),
        "lt": (True, False, False),
        "le": (True, True, False),
    }[t.comparator]
    assert (below, at, above) == expected
