"""The patient page: its template context (assessment, timeline, charts) and its rendering."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from sqlalchemy.orm import Session

from rplcare.domain.case import Outcome
from rplcare.engine.assess import assess
from rplcare.engine.assessment import Assessment
from rplcare.engine.compare import advice_changes
from rplcare.errors import CaseValidationError
from rplcare.knowledge.loader import load_knowledge
from rplcare.knowledge.profile import Profile
from rplcare.web import charts
from rplcare.web import repository as repo
from rplcare.web.models import Couple, User
from rplcare.web.routes.pages import summary
from rplcare.web.routes.pages.common import render
from rplcare.web.routes.pages.form_models import weeks_text
from rplcare.web.routes.pages.forms import FLAG_CHOICES, FormErrors, _

OUTCOMES = tuple(o.value for o in Outcome)


def vocabulary_tests() -> dict[str, Any]:
    return {
        code: spec
        for code, spec in load_knowledge().vocabulary.tests.items()
        if spec.in_case_vocabulary
    }


def _guideline_name(key: str) -> str:
    g = load_knowledge().guidelines.get(key)
    return g.name if g else key


def _chart(render: Any, *args: Any) -> Markup | None:
    try:
        return Markup(render(*args))  # charts escape every text they draw
    except (ValueError, TypeError, KeyError):
        return None


def _compact_bar(estimate: float, interval: list[float], label: str) -> str:
    return charts.risk_bar_svg(estimate, interval, label, compact=True)


def _timeline(couple: Couple) -> list[dict[str, Any]]:
    tests = vocabulary_tests()
    events: list[dict[str, Any]] = []
    numbers = {p.id: i + 1 for i, p in enumerate(couple.pregnancies)}
    for i, p in enumerate(couple.pregnancies):
        events.append(
            {
                "date": p.end_date,
                "kind": "pregnancy",
                "number": i + 1,
                "outcome": p.outcome.replace("_", " "),
                "weeks": p.gestational_weeks,
                "weeks_assumed": bool(p.gestational_weeks_assumed),
                "heartbeat": p.heartbeat_seen,
                "partner": p.partner,
                "notes": p.notes,
                "id": p.id,
            }
        )
    for t in couple.tests:
        spec = tests.get(t.code)
        result = " ".join(
            str(x)
            for x in (t.result, f"{t.value:g}" if t.value is not None else None, t.unit)
            if x is not None
        )
        events.append(
            {
                "date": t.date,
                "kind": "test",
                "label": spec.label if spec else t.code,
                "result": result,
                "pregnancy": numbers.get(t.pregnancy_id) if t.pregnancy_id else None,
                "method": t.method,
                "detail": t.detail,
                "id": t.id,
            }
        )
    events.sort(key=lambda e: (e["date"], e["kind"] != "pregnancy"))
    return events


def _care_row_states(couple: Couple, rows: list[summary.MergedRow]) -> dict[str, Any]:
    """Per care-plan row, the latest status set on any of its guideline items."""
    by_item = {c.item_id: c for c in couple.care_statuses}
    states: dict[str, Any] = {}
    for row in rows:
        set_ = [by_item[i] for i in row.item_ids if i in by_item]
        if set_:
            states[row.key] = max(set_, key=lambda c: c.updated_at)
    return states


def _summary_context(couple: Couple, a: Assessment) -> dict[str, Any]:
    """The summary card and the merged work-up and care plan (U3, U4, U5)."""
    names = {k: _guideline_name(k) for k in a.definitions}
    workup_rows = summary.merged_workup(a)
    care_rows = summary.merged_care(a)
    return {
        "definition_names": names,
        "guideline_statuses": summary.guideline_statuses(a, names),
        "workup_rows": workup_rows,
        "care_rows": care_rows,
        "care_row_state": _care_row_states(couple, care_rows),
        "steps": summary.next_steps(workup_rows, a.as_of),
        "risk_setting": summary.setting_in_words(a.prognosis.next_pregnancy),
        "fig": summary.figure,
        "found_causes": [c for c in a.causes if c.status in ("confirmed", "possible")],
    }


def _patient_context(
    session: Session, couple: Couple, user: User, profile: Profile | None, *, save: bool
) -> dict[str, Any]:
    today = date.today()
    assessment: Assessment | None = None
    problems: list[str] = []
    # The newest snapshot made with an older knowledge version, to say what the update changed.
    older = next(
        (
            r
            for r in reversed(couple.assessments)
            if r.knowledge_version != load_knowledge().version
        ),
        None,
    )
    try:
        if save:
            assessment = repo.assess_couple(session, couple, today, user.username, profile)
        else:
            assessment = assess(repo.validate(repo.couple_to_case(couple, today)), profile=profile)
    except CaseValidationError as exc:
        problems = exc.problems
    ctx: dict[str, Any] = {
        "couple": couple,
        "today": today,
        "assessment": assessment,
        "assessment_problems": problems,
        "timeline": _timeline(couple),
        "weeks_text": weeks_text,
        "tests_vocab": vocabulary_tests(),
        "outcomes": OUTCOMES,
        "flag_choices": FLAG_CHOICES,
        "care_statuses": repo.CARE_STATUSES,
        "care_state": {c.item_id: c for c in couple.care_statuses},
        "errors": FormErrors(),
        "current_days": repo.current_days(couple, today),
        **current_pregnancy_state(couple, today),
    }
    if assessment is not None and older is not None:
        ctx["knowledge_update"] = advice_changes(older.payload, assessment)
        ctx["knowledge_update_date"] = older.created_at.date()
    if assessment is not None:
        prog = assessment.prognosis
        nxt = prog.next_pregnancy
        cur = prog.current_pregnancy
        ctx.update(_summary_context(couple, assessment))
        m, lb = nxt.miscarriage_risk, nxt.live_birth_chance
        # No chart outside the model's data (no number there, only the reason). Compact: the
        # page prints the figures, in whole percentages, next to the chart.
        ctx["risk_chart"] = (
            _chart(_compact_bar, m.estimate, m.interval, _("Miscarriage in the next pregnancy"))
            if m.estimate is not None
            else None
        )
        ctx["live_birth_chart"] = (
            _chart(_compact_bar, lb.estimate, lb.interval, _("Live birth in the next pregnancy"))
            if lb.estimate is not None
            else None
        )
        ctx["curve_chart"] = (
            _chart(
                charts.curve_svg,
                [p.model_dump() for p in cur.curve_to_20_weeks],
                cur.gestational_age_days,
            )
            if cur is not None and cur.curve_to_20_weeks
            else None
        )
    return ctx


def current_pregnancy_state(couple: Couple, today: date) -> dict[str, Any]:
    """What the page shows of a current pregnancy as it ages (U8): past the current-pregnancy
    model's gestational range it asks for the outcome instead of figures; past the plausible
    gestation the pregnancy is left out of the assessment and flagged; loss figures up to 12
    or 20 weeks are hidden once that week has passed."""
    from rplcare.prognosis.current import WEEK_12, WEEK_20
    from rplcare.prognosis.model import load_parameters

    days = repo.current_days(couple, today)
    last_day = load_parameters()["current_pregnancy"]["domain"]["gestational_days"][1]
    return {
        "current_overdue": repo.current_overdue(couple, today),
        "ask_outcome": days is not None and days > last_day,
        "model_last_day": last_day,
        "past_12_weeks": days is not None and days >= WEEK_12,
        "past_20_weeks": days is not None and days >= WEEK_20,
        "current_weeks": weeks_text(days / 7) if days is not None else "",
    }


#: The "Saved" notice after a redirect: key -> (message, section of the page it belongs to).
SAVED = {
    "pregnancy-added": (_("Pregnancy added."), "history"),
    "pregnancy-edited": (_("Pregnancy saved."), "history"),
    "pregnancy-removed": (_("Pregnancy removed."), "history"),
    "test-added": (_("Test result saved."), "history"),
    "test-edited": (_("Test result saved."), "history"),
    "test-removed": (_("Test result removed."), "history"),
    "outcome": (_("Outcome recorded; the current pregnancy is now in the history."), "history"),
    "current-set": (_("Current pregnancy saved."), "current"),
    "current-cleared": (_("Current pregnancy cleared."), "current"),
    "care": (_("Care-plan status saved."), "care"),
    "details": (_("Couple details saved."), "top"),
    "imported": (_("Case file imported as a new couple."), "top"),
    "import-updated": (_("Case file imported: this couple was updated."), "top"),
}


def saved_redirect(couple: Couple, key: str) -> RedirectResponse:
    """Back to the patient page after a save, with its notice (POST/redirect/GET)."""
    section = SAVED[key][1]
    anchor = "" if section == "top" else f"#{section}"
    return RedirectResponse(f"/patients/{couple.id}?saved={key}{anchor}", status_code=303)


def _what_if(request: Request, couple: Couple, a: Assessment) -> dict[str, Any]:
    """The patient page's what-if form (GET, no scripts): stopping smoking, another BMI,
    trying a number of years later; the cited scenarios or the form's problem."""
    from rplcare.engine.assess import history_sequence
    from rplcare.prognosis.whatif import Covariates, WhatIfError, what_if

    q = request.query_params
    changes: list[str] = []
    if q.get("if_stop_smoking"):
        changes.append("smoker=false")
    for key, template in (("if_bmi", "bmi={}"), ("if_years_older", "age=+{}")):
        raw = q.get(key, "").strip()[:10]
        if raw:
            changes.append(template.format(raw))
    out: dict[str, Any] = {"asked": bool(changes), "rows": [], "error": None}
    if not changes:
        return out
    case = repo.validate(repo.couple_to_case(couple, date.today()))
    from rplcare.domain.history import derive_history

    history = history_sequence(derive_history(case, load_knowledge().history))
    life = case.lifestyle
    cov = Covariates(
        bmi=life.bmi if life else None,
        smoker=bool(life and life.smoker),
        pcos=bool(case.patient.pcos),
    )
    try:
        rows = what_if(a.patient.age, history, a.prognosis.next_pregnancy.setting, cov, changes)
    except WhatIfError as exc:
        out["error"] = str(exc)
        return out
    out["rows"] = [w.as_dict() for w in rows]
    return out


def patient_page_response(
    request: Request,
    session: Session,
    couple: Couple,
    user: User,
    errors: FormErrors | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The patient page. Without `errors` the assessment is saved as a snapshot; with them it
    is only recomputed from the stored case, and the form's problems are shown."""
    ctx = _patient_context(session, couple, user, request.app.state.profile, save=errors is None)
    if ctx.get("assessment") is not None:
        ctx["what_if"] = _what_if(request, couple, ctx["assessment"])
    if errors is not None:
        ctx["errors"] = errors
    elif (saved := SAVED.get(request.query_params.get("saved", ""))) is not None:
        ctx["saved"] = {"message": saved[0], "section": saved[1]}
    return render(request, user, "patients/detail.html", ctx, status)
