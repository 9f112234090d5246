"""Render an assessment for the terminal with Rich. Translation only: no clinical logic."""

from __future__ import annotations

from itertools import groupby

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from rplcare.engine.assessment import Assessment, RiskOut

_REC_STYLE = {"recommended": "green", "consider": "yellow", "not_recommended": "red"}
_STATUS_STYLE = {
    "to_do": "bold",
    "optional": "italic",
    "done": "dim",
    "repeat": "bold magenta",
    "not_indicated": "dim",
}
_CAUSE_STYLE = {"confirmed": "bold red", "possible": "yellow", "excluded": "dim"}


def _verification(v: str) -> Text:
    if v == "unverified":
        return Text("UNVERIFIED", style="bold white on red")
    return Text(v, style="green" if v == "verified" else "cyan")


def _definitions(a: Assessment) -> Table:
    t = Table(title="RPL definitions, side by side", show_lines=True, expand=True)
    t.add_column("Guideline", no_wrap=True)
    t.add_column("Meets", no_wrap=True)
    t.add_column("Counted")
    t.add_column("Kind")
    t.add_column("Reasons", ratio=1)
    for gid, d in a.definitions.items():
        meets = Text("yes", style="bold green") if d.meets else Text("no", style="bold red")
        if d.evaluation == "discretionary":
            meets.append(" (evaluation at discretion)", style="yellow")
        t.add_row(gid, meets, str(d.losses_counted), d.kind or "-", "\n".join(d.reasons))
    return t


def _workup(a: Assessment) -> list[Table]:
    tables = []
    for guideline, rows in groupby(a.workup, key=lambda w: w.guideline):
        t = Table(title=f"Work-up: {guideline}", expand=True)
        for col in ("Test", "Position", "Strength", "Status", "Source"):
            t.add_column(col)
        for w in rows:
            status = Text(w.status.replace("_", " "), style=_STATUS_STYLE[w.status])
            if w.due_date:
                status.append(f" from {w.due_date}")
            source = Text(f"{w.citation} ")
            source.append_text(_verification(w.verification))
            position = Text(w.recommendation.replace("_", " "), style=_REC_STYLE[w.recommendation])
            if w.only_in_research:
                position.append(" (only in research)")
            if w.note:
                position.append(f"\n{w.note}", style="italic")
            t.add_row(w.test_label, position, w.strength, status, source)
        tables.append(t)
    return tables


def _causes(a: Assessment) -> Table:
    t = Table(title="Causes and evidence", show_lines=True, expand=True)
    t.add_column("Cause", no_wrap=True)
    t.add_column("Status", no_wrap=True)
    t.add_column("Evidence", ratio=1)
    for c in a.causes:
        t.add_row(c.label, Text(c.status, style=_CAUSE_STYLE[c.status]), "\n".join(c.evidence))
    for r in a.risk_factors:
        status = "risk factor present" if r.status == "present" else "no risk factor"
        style = "yellow" if r.status == "present" else "dim"
        t.add_row(r.label, Text(status, style=style), "\n".join(r.evidence))
    for n in a.causes_not_assessed:
        t.add_row(n.label, Text("not assessed", style="dim"), n.reason)
    return t


def _care(a: Assessment) -> Table:
    t = Table(title="Care plan", show_lines=True, expand=True)
    for col in ("Intervention", "Guideline", "Position", "What it says", "Source"):
        t.add_column(col)
    for c in a.care_plan:
        source = Text(f"{c.citation} ({c.strength}) ")
        source.append_text(_verification(c.verification))
        t.add_row(
            c.intervention_label,
            c.guideline,
            Text(
                c.recommendation.replace("_", " ")
                + (" (only in research)" if c.only_in_research else ""),
                style=_REC_STYLE[c.recommendation],
            ),
            c.statement,
            source,
        )
    return t


def _pct(e: RiskOut) -> str:
    if e.estimate is None or e.interval is None or e.confidence_interval is None:
        return f"not estimated: {e.reason}"
    lo, hi = e.interval
    clo, chi = e.confidence_interval
    return (
        f"{100 * e.estimate:.1f}%  (95% prediction interval {100 * lo:.1f}-{100 * hi:.1f}%; "
        f"confidence interval {100 * clo:.1f}-{100 * chi:.1f}%)"
    )


def _prognosis(a: Assessment) -> Panel:
    p = a.prognosis
    n = p.next_pregnancy
    lines = [
        f"Next pregnancy ({n.setting_reason})",
        f"  miscarriage: {_pct(n.miscarriage_risk)}",
        f"  live birth:  {_pct(n.live_birth_chance)}",
        *(f"  - {d}" for d in n.drivers),
        *(f"  ! not taken into account: {x}" for x in n.not_covered),
    ]
    cum = p.cumulative_live_birth
    if cum is not None:
        lines.append(f"Live birth over time ({cum.setting} setting; to {cum.counted_to})")
        lines += [
            f"  within {y.years} year{'s' if y.years > 1 else ''}: {_pct(y)}" for y in cum.years
        ]
    c = p.current_pregnancy
    if c is not None:
        weeks, days = divmod(c.gestational_age_days, 7)
        lines += [
            f"Current pregnancy ({weeks} weeks {days} days, heartbeat "
            f"{'seen' if c.heartbeat_seen else 'not confirmed'})",
            f"  loss before 12 weeks: {_pct(c.loss_risk_to_12_weeks)}",
            f"  loss before 20 weeks: {_pct(c.loss_risk_to_20_weeks)}",
            *(f"  - {d}" for d in c.drivers),
            *(f"  ! not taken into account: {x}" for x in c.not_covered),
        ]
    lines.append("Limits: " + " ".join(p.limits))
    return Panel("\n".join(lines), title=f"Prognosis ({p.model_version})")


def _eligibility(a: Assessment) -> Table:
    assert a.profile is not None
    t = Table(title="Local eligibility rules (clinic profile)", show_lines=True, expand=True)
    for col in ("Rule", "Met", "Why", "Source"):
        t.add_column(col)
    for r in a.profile.eligibility:
        met = {True: "yes", False: "no", None: "cannot tell"}[r.met]
        source = Text(f"{r.citation} ")
        source.append_text(_verification(r.verification))
        t.add_row(r.description, met, "\n".join(r.reasons), source)
    return t


def render(a: Assessment, console: Console) -> None:
    h = a.history
    head = Text(f"rplcare assessment  {a.case_id or ''}\n", style="bold")
    head.append(
        f"as of {a.as_of} · age {a.patient.age} · knowledge base {a.knowledge_version}\n"
        f"{h.pregnancies} pregnancies: {h.losses_total} losses ({h.losses_first_trimester} "
        f"first-trimester, {h.losses_second_trimester} second-trimester, {h.losses_biochemical} "
        f"biochemical), {h.live_births} live births, {h.consecutive_losses} consecutive losses "
        f"up to now, {h.losses_since_last_birth} since the last birth"
    )
    if a.profile is not None:
        head.append(
            f"\nclinic profile {a.profile.id}: {a.profile.clinic_name}; primary guideline "
            f"{a.profile.primary}; shown: {', '.join(a.profile.guidelines)}"
        )
    console.print(Panel(head))
    console.print(_definitions(a))
    if a.profile is not None and a.profile.eligibility:
        console.print(_eligibility(a))
    for table in _workup(a):
        console.print(table)
    console.print(_causes(a))
    console.print(_care(a))
    console.print(_prognosis(a))
    if a.disagreements:
        lines = [
            f"{d.topic}: "
            + "; ".join(f"{p.guideline} {p.recommendation.replace('_', ' ')}" for p in d.positions)
            for d in a.disagreements
        ]
        console.print(Panel("\n".join(lines), title="Where the guidelines disagree"))
    for w in a.warnings:
        console.print(Text(f"! {w}", style="bold yellow"))
    console.print(Panel(Group(Text(a.disclaimer)), title="Please note", style="italic"))
