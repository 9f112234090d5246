"""The names a knowledge item's `when` condition may use.

The engine computes exactly these facts for a case (`rplcare.engine.facts`); the loader rejects
any condition naming something else, so a typo in a YAML file fails at load, not silently.
"""

from __future__ import annotations

#: Facts with a fixed name. Values are ints, bools or strings; None means "unknown".
STATIC_FACTS: frozenset[str] = frozenset(
    {
        # loss counts (history) and the guideline-specific count for the item's guideline
        "losses_total",
        "losses_clinical",
        "losses_biochemical",
        "losses_first_trimester",
        "losses_second_trimester",
        "live_births",
        "stillbirths",
        "ectopic_pregnancies",
        "molar_pregnancies",
        "consecutive_losses",
        # a fetal death at or after the Sydney criterion (a) gestation, or a stillbirth
        "aps.clinical_criterion_a_event",
        # highest recorded gestation (weeks) of a miscarriage or stillbirth; None without one
        "loss_max_weeks",
        # EULAR 2019 high-risk aPL profile: lupus anticoagulant or more than one antibody
        # group persistently positive
        "aps.high_risk_profile",
        # the woman's recorded PCOS diagnosis
        "patient.pcos",
        "losses_counted",
        "definition_met",
        "evaluation",  # indicated | discretionary | not_indicated, for the item's guideline
        "rpl_kind",  # primary | secondary | None, for the item's guideline
        # current pregnancy
        "current.pregnant",
        "current.bleeding",
        "current.intrauterine",
        "current.heartbeat",
        "current.gestational_weeks",
        "current.first_trimester",
        "current.tsh_value",  # TSH measured in the current pregnancy
        "current.tsh_above_range",
        "poc.unbalanced_found",  # any pregnancy-tissue result, not only the latest
        # derived thyroid and lifestyle findings
        "aps.laboratory_criteria_met",
        "thyroid.tsh_value",
        "thyroid.tsh_above_range",
        "lifestyle.smoking",
        "lifestyle.bmi_outside_range",
        "lifestyle.alcohol_above",
        "lifestyle.caffeine_above",
    }
)

#: Families of facts: `result.<test code>` (latest result, or "none") and
#: `cause.<category>` (confirmed | possible | excluded | none).
RESULT_PREFIX = "result."
CAUSE_PREFIX = "cause."


def is_known_fact(name: str, test_codes: set[str], causes: set[str]) -> bool:
    if name in STATIC_FACTS:
        return True
    if name.startswith(RESULT_PREFIX):
        return name.removeprefix(RESULT_PREFIX) in test_codes
    if name.startswith(CAUSE_PREFIX):
        return name.removeprefix(CAUSE_PREFIX) in causes
    return False
