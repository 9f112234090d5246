"""Words the UI shows from coded values (outcomes, statuses, positions), marked here so that
the catalogs hold them: templates translate them as `_(value.replace("_", " "))`. A test
checks this list against the engine's and the case format's value sets."""

from __future__ import annotations


def N_(message: str) -> str:
    return message


OUTCOMES = (
    N_("live birth"),
    N_("stillbirth"),
    N_("miscarriage"),
    N_("anembryonic"),
    N_("biochemical"),
    N_("ectopic"),
    N_("molar"),
    N_("termination"),
)
DEFINITION_KINDS = (N_("primary"), N_("secondary"))
EVALUATIONS = (N_("indicated"), N_("discretionary"), N_("not indicated"))
RECOMMENDATIONS = (N_("recommended"), N_("consider"), N_("not recommended"))
WORKUP_STATUSES = (N_("to do"), N_("optional"), N_("done"), N_("repeat"), N_("not indicated"))
CAUSE_STATUSES = (N_("confirmed"), N_("possible"), N_("excluded"))
FACTOR_STATUSES = (N_("present"), N_("absent"))
VERIFICATIONS = (N_("verified"), N_("secondary"), N_("unverified"))
TOPIC_KINDS = (N_("test"), N_("intervention"))
SETTINGS = (N_("population"), N_("clinic"))
CARE_STATUSES = (N_("planned"), N_("started"), N_("done"), N_("declined"))
ROLES = (N_("admin"), N_("clinician"))
ANSWERS = (N_("yes"), N_("no"))
#: The engine's disclaimer (rplcare.engine.assessment.DISCLAIMER; a test keeps them equal).
DISCLAIMER = N_(
    "rplcare supports, and does not replace, the judgement of a qualified clinician. It "
    "summarises published guidance with citations; items marked UNVERIFIED were not confirmed "
    "in the primary source. Decisions about tests and treatment belong to the clinician and "
    "the couple."
)

ALL = (
    OUTCOMES
    + DEFINITION_KINDS
    + EVALUATIONS
    + RECOMMENDATIONS
    + WORKUP_STATUSES
    + CAUSE_STATUSES
    + FACTOR_STATUSES
    + VERIFICATIONS
    + TOPIC_KINDS
    + SETTINGS
    + CARE_STATUSES
    + ROLES
    + ANSWERS
    + (DISCLAIMER,)
)
