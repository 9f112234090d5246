"""Interpret results into causes, each with an evidence trail that cites its source.

The logic (which test, which combination) is here; every threshold and every cited sentence
comes from findings.yaml. Statuses: confirmed, possible, excluded; categories without results
are listed as not assessed rather than guessed.
"""

from __future__ import annotations

from datetime import timedelta

from rplcare.domain.case import Case, TestResult
from rplcare.domain.history import History
from rplcare.engine.aps import interpret_aps
from rplcare.engine.evidence import (
    Findings,
    RiskFactor,
    Status,
    latest,
    results,
    shown,
    statement,
    threshold_text,
)
from rplcare.knowledge.loader import KnowledgeBase


def _maps_to(kb: KnowledgeBase, t: TestResult, category: str, *, certain: bool = True) -> bool:
    """Whether this result establishes (or, with certain=False, suggests) the cause category;
    the result-to-category map lives in vocabulary.yaml."""
    spec = kb.vocabulary.tests[t.code]
    table = spec.abnormal if certain else spec.uncertain
    return t.result is not None and table.get(t.result) == category


def _panel(kb: KnowledgeBase, category: str) -> list[str]:
    """Test codes whose results can point to the cause category."""
    return [
        code
        for code, spec in kb.vocabulary.tests.items()
        if category in {*spec.abnormal.values(), *spec.uncertain.values()}
    ]


def _tsh_above(tsh: TestResult, kb: KnowledgeBase) -> bool | None:
    """The laboratory's flag wins; a bare value is compared with the cited default limit."""
    if tsh.result is not None:
        return tsh.result == "high"
    if tsh.value is not None:
        return kb.threshold("thyroid.tsh_upper_without_local_range").holds(tsh.value)
    return None


def _current_pregnancy_tsh(case: Case, kb: KnowledgeBase, f: Findings) -> None:
    """TSH measured during the current pregnancy (pregnancy-specific treatment rules)."""
    cp = case.current_pregnancy
    tsh = None
    if cp is not None:
        start = case.as_of - timedelta(days=cp.gestational_age_days)
        during = [t for t in results(case, "tsh") if t.date >= start]
        tsh = during[-1] if during else None
    f.facts["current.tsh_value"] = tsh.value if tsh else None
    f.facts["current.tsh_above_range"] = _tsh_above(tsh, kb) if tsh else None


def _thyroid(case: Case, kb: KnowledgeBase, f: Findings) -> None:
    tsh, ft4, tpo = latest(case, "tsh"), latest(case, "free_t4"), latest(case, "tpo_antibodies")
    above = _tsh_above(tsh, kb) if tsh is not None else None
    f.facts["thyroid.tsh_value"] = tsh.value if tsh else None
    f.facts["thyroid.tsh_above_range"] = above
    _current_pregnancy_tsh(case, kb, f)

    if tsh is None:
        for cat in ("overt_hypothyroidism", "subclinical_hypothyroidism"):
            f.skip(cat, "no TSH result")
    else:
        basis = [shown(tsh)]
        if tsh.result is None:
            basis.append(threshold_text(kb, "thyroid.tsh_upper_without_local_range"))
        if not above:
            if tsh.result == "low":
                f.warnings.append(f"low TSH ({shown(tsh)}) is outside rplcare's scope: review")
            for cat in ("overt_hypothyroidism", "subclinical_hypothyroidism"):
                f.add(cat, Status.EXCLUDED, [*basis, "TSH not above the reference range"])
        elif ft4 is None or ft4.result is None:
            if ft4 is not None:
                basis.append(f"{shown(ft4)} has no laboratory flag (no cited free T4 limit)")
            for cat in ("overt_hypothyroidism", "subclinical_hypothyroidism"):
                f.add(cat, Status.POSSIBLE, [*basis, statement(kb, "thyroid.fT4_needed")])
        else:
            basis.append(shown(ft4))
            f.add(
                "overt_hypothyroidism",
                Status.CONFIRMED if ft4.result == "low" else Status.EXCLUDED,
                [*basis, statement(kb, "thyroid.overt_definition")],
            )
            f.add(
                "subclinical_hypothyroidism",
                Status.CONFIRMED if ft4.result == "normal" else Status.EXCLUDED,
                [*basis, statement(kb, "thyroid.sch_definition"), statement(kb, "thyroid.sip70")],
            )
    if tpo is None:
        f.skip("thyroid_autoimmunity", "no TPO antibody result")
    elif tpo.result == "positive":
        evidence = [shown(tpo), statement(kb, "thyroid.autoimmunity_association")]
        if above is False:
            evidence.append(statement(kb, "thyroid.lt4_trials"))
        f.add("thyroid_autoimmunity", Status.CONFIRMED, evidence)
    elif tpo.result == "negative":
        f.add("thyroid_autoimmunity", Status.EXCLUDED, [shown(tpo)])
    else:
        f.skip("thyroid_autoimmunity", f"{shown(tpo)} without a positive/negative flag")


def _uterus(case: Case, kb: KnowledgeBase, f: Findings) -> None:
    img = latest(case, "uterine_imaging")
    if img is None or img.result is None:
        for cat in ("congenital_uterine_anomaly", "acquired_uterine_lesion"):
            f.skip(cat, "no uterine imaging result")
        return
    seen = shown(img) + (f" by {img.method}" if img.method else "")
    if _maps_to(kb, img, "congenital_uterine_anomaly"):
        f.add(
            "congenital_uterine_anomaly",
            Status.CONFIRMED,
            [seen, statement(kb, "uterus.congenital_classes"), statement(kb, "uterus.prevalence")],
        )
    elif img.result == "arcuate":
        f.add(
            "congenital_uterine_anomaly", Status.EXCLUDED, [seen, statement(kb, "uterus.arcuate")]
        )
    else:
        f.add("congenital_uterine_anomaly", Status.EXCLUDED, [seen])
    if _maps_to(kb, img, "acquired_uterine_lesion"):
        f.add("acquired_uterine_lesion", Status.CONFIRMED, [seen, statement(kb, "uterus.acquired")])
    else:
        f.add("acquired_uterine_lesion", Status.EXCLUDED, [seen])


def _genetics(case: Case, history: History, kb: KnowledgeBase, f: Findings) -> None:
    poc = results(case, "poc_karyotype")
    f.facts["result.poc_karyotype"] = poc[-1].result if poc else "none"
    f.facts["poc.unbalanced_found"] = any(t.result == "unbalanced_structural" for t in poc)
    abnormal_poc = [t for t in poc if _maps_to(kb, t, "embryonic_chromosomal_abnormality")]
    usable = [t for t in poc if t.result != "failed"]
    if abnormal_poc:
        f.add(
            "embryonic_chromosomal_abnormality",
            Status.CONFIRMED,
            [shown(t) for t in abnormal_poc] + [statement(kb, "genetics.poc_yield")],
        )
    elif usable:
        f.add("embryonic_chromosomal_abnormality", Status.EXCLUDED, [shown(t) for t in usable])
    else:
        reason = "pregnancy-tissue testing failed" if poc else "no pregnancy-tissue result"
        f.skip("embryonic_chromosomal_abnormality", reason)

    karyotypes = [t for c in ("karyotype_female", "karyotype_male") if (t := latest(case, c))]
    unbalanced = [t for t in poc if t.result == "unbalanced_structural"]
    rearrangement = "parental_chromosomal_rearrangement"
    abnormal = [t for t in karyotypes if _maps_to(kb, t, rearrangement)]
    other = [t for t in karyotypes if _maps_to(kb, t, rearrangement, certain=False)]
    evidence = [
        shown(t) + (f" ({t.detail})" if t.detail else "") for t in [*abnormal, *other, *unbalanced]
    ]
    if abnormal:
        f.add(
            "parental_chromosomal_rearrangement",
            Status.CONFIRMED,
            [*evidence, statement(kb, "genetics.rearrangement_probability")],
        )
    elif other or (unbalanced and len(karyotypes) < 2):
        if unbalanced:
            evidence.append(statement(kb, "genetics.poc_unbalanced_triggers_parental"))
        f.add("parental_chromosomal_rearrangement", Status.POSSIBLE, evidence)
    elif len(karyotypes) == 2:
        f.add("parental_chromosomal_rearrangement", Status.EXCLUDED, [shown(t) for t in karyotypes])
    else:
        missing = "no parental karyotypes" if not karyotypes else "only one partner karyotyped"
        f.skip("parental_chromosomal_rearrangement", missing)


def _thrombophilia(case: Case, kb: KnowledgeBase, f: Findings) -> None:
    category = "hereditary_thrombophilia"
    tested = [t for c in _panel(kb, category) if (t := latest(case, c))]
    if not tested:
        f.skip(category, "not tested (not routinely recommended)")
        return
    carriers = [t for t in tested if _maps_to(kb, t, category)]
    low = [t for t in tested if _maps_to(kb, t, category, certain=False)]
    note = statement(kb, "thrombophilia.weak_association")
    if carriers:
        f.add("hereditary_thrombophilia", Status.CONFIRMED, [*map(shown, carriers + low), note])
    elif low:
        f.add(
            "hereditary_thrombophilia",
            Status.POSSIBLE,
            [
                *map(shown, low),
                "a single low level; an inherited deficiency is not confirmed",
                note,
            ],
        )
    else:
        f.add(category, Status.EXCLUDED, [*map(shown, tested)])


def _flagged(case: Case, kb: KnowledgeBase, f: Findings, code: str, category: str) -> None:
    """Prolactin and HbA1c: no cited threshold, so only the laboratory's own flag is used."""
    t = latest(case, code)
    if t is None:
        f.skip(category, f"no {code} result")
    elif t.result == "high":
        f.add(category, Status.POSSIBLE, [shown(t), statement(kb, "endocrine.no_threshold")])
    elif t.result in {"normal", "low"}:
        f.add(category, Status.EXCLUDED, [shown(t)])
    else:
        f.skip(
            category,
            f"{shown(t)} has no laboratory flag; {kb.statement('endocrine.no_threshold').text}",
        )


def _lifestyle(case: Case, kb: KnowledgeBase, f: Findings) -> None:
    life = case.lifestyle
    # (fact name, flagged?, what was recorded, threshold behind the flag)
    checks: list[tuple[str, bool, str, str | None]] = []
    if life is not None:
        if life.smoker is not None:
            checks.append(("lifestyle.smoking", life.smoker, "smoker", None))
        if life.bmi is not None:
            low = kb.threshold("lifestyle.bmi_low").holds(life.bmi)
            high = kb.threshold("lifestyle.bmi_high").holds(life.bmi)
            key = "lifestyle.bmi_low" if low else "lifestyle.bmi_high"
            checks.append(("lifestyle.bmi_outside_range", low or high, f"BMI {life.bmi:g}", key))
        for fact, value, unit, key in (
            (
                "lifestyle.alcohol_above",
                life.alcohol_units_per_week,
                "units/week of alcohol",
                "lifestyle.alcohol_units_per_week",
            ),
            (
                "lifestyle.caffeine_above",
                life.caffeine_mg_per_day,
                "mg/day of caffeine",
                "lifestyle.caffeine_mg_per_day",
            ),
        ):
            if value is not None:
                checks.append((fact, kb.threshold(key).holds(value), f"{value:g} {unit}", key))
    if not checks:
        f.skip("lifestyle_risk", "no lifestyle information")
        return
    risks = []
    for fact, flagged, label, basis in checks:
        f.facts[fact] = flagged
        if flagged:
            risks.append(f"{label}: {threshold_text(kb, basis)}" if basis else label)
    # Modifiable associations, not causes: "present, advise", never "cause confirmed".
    if risks:
        evidence = [*risks, statement(kb, "lifestyle.risk_factors")]
        f.risk_factors.append(RiskFactor("lifestyle_risk", True, tuple(evidence)))
    else:
        within = ("recorded lifestyle factors are within cited limits",)
        f.risk_factors.append(RiskFactor("lifestyle_risk", False, within))


def _unexplained(case: Case, kb: KnowledgeBase, f: Findings) -> None:
    rule = kb.unexplained
    found = [c for c in f.causes if c.category in rule.excluded_by]
    confirmed = [c.category for c in found if c.status is Status.CONFIRMED]
    if confirmed:
        f.add("unexplained", Status.EXCLUDED, [f"a cause was found: {', '.join(confirmed)}"])
        return
    # A possible cause (a single positive test awaiting its repeat, a TSH without free T4)
    # does not explain the losses yet: until it is confirmed the RPL stays possibly unexplained.
    pending = [c.category for c in found if c.status is Status.POSSIBLE]
    if pending:
        f.add(
            "unexplained",
            Status.POSSIBLE,
            [f"a possible cause is not yet confirmed: {', '.join(pending)}"],
        )
        return
    missing = [
        " or ".join(group)
        for group in rule.requires_tests
        if not any(results(case, c) for c in group)
    ]
    essential = statement(kb, "unexplained.essential_workup")
    if missing:
        f.add(
            "unexplained",
            Status.POSSIBLE,
            [
                "no cause found so far, but the work-up is incomplete: "
                f"{', '.join(missing)} missing",
                essential,
            ],
        )
    else:
        f.add(
            "unexplained",
            Status.CONFIRMED,
            [
                "essential work-up complete and no cause found",
                essential,
                statement(kb, "unexplained.share"),
            ],
        )


def interpret(case: Case, history: History, kb: KnowledgeBase, evaluated: bool) -> Findings:
    """All causes for a case. `evaluated`: whether any guideline's evaluation applies, which
    decides whether 'unexplained' is a meaningful label."""
    f = Findings()
    _thyroid(case, kb, f)
    _uterus(case, kb, f)
    _genetics(case, history, kb, f)
    _thrombophilia(case, kb, f)
    _flagged(case, kb, f, "prolactin", "hyperprolactinaemia")
    _flagged(case, kb, f, "hba1c", "diabetes")
    interpret_aps(case, history, kb, f)  # last: Sydney criterion (c) needs other causes excluded
    _lifestyle(case, kb, f)
    if evaluated:
        _unexplained(case, kb, f)
    for category in kb.vocabulary.causes:
        f.facts[f"cause.{category}"] = s.value if (s := f.status_of(category)) else "none"
    for code in kb.vocabulary.tests:
        t = latest(case, code)
        f.facts.setdefault(
            f"result.{code}", t.result if t and t.result else ("none" if t is None else None)
        )
    return f
