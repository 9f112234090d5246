"""The patient page's summary (issue 15, review findings U3, U4, U5): per-test and
per-intervention rows merged across guidelines, the next steps, and the risk in words.

Pure translation of the engine's output: every position, strength, status and figure comes
from the assessment; nothing is ranked or chosen between guidelines. Where guidelines differ,
each position is kept as its own chip.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from rplcare.engine.assessment import Assessment, CareOut, NextPregnancyOut, RiskOut, WorkupOut
from rplcare.prognosis.predict import CLINIC_SETTING_EFFECT
from rplcare.web.routes.pages.forms import _

#: Work-up rows from what needs doing to what does not (the engine's order within each).
_WORKUP_ORDER = ("repeat", "to_do", "optional", "done", "not_indicated")
#: Care-plan rows: any guideline recommending first, then suggesting, then advising against.
_CARE_ORDER = ("recommended", "consider", "not_recommended")


def whole_pct(fraction: float) -> str:
    """A fraction as a whole percentage (0.3359 -> '34%'): the interval is far wider than
    the decimals one place would suggest."""
    return f"{100 * fraction:.0f}%"


@dataclass(frozen=True)
class Chip:
    """One guideline's position on a test or an intervention."""

    item_id: str
    guideline: str
    recommendation: str
    strength: str
    evidence_quality: str | None
    verification: str
    statement: str
    citation: str
    note: str | None
    only_in_research: bool
    status: str | None = None  # work-up only
    due_date: date | None = None  # work-up only


@dataclass(frozen=True)
class MergedRow:
    """One test or intervention, with every guideline's position on it."""

    key: str  # the test or intervention code
    label: str
    chips: tuple[Chip, ...]

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(c.item_id for c in self.chips)

    @property
    def status(self) -> str:
        """The work-up status of the test: the most pressing among the guidelines'."""
        present = {c.status for c in self.chips}
        return next((s for s in _WORKUP_ORDER if s in present), "not_indicated")

    @property
    def strongest(self) -> str:
        present = {c.recommendation for c in self.chips}
        return next((r for r in _CARE_ORDER if r in present), "not_recommended")

    def guidelines_with(self, *values: str) -> list[str]:
        """Guidelines whose position (status or recommendation) is one of `values`, each once
        (a guideline can hold two items on one intervention)."""
        return _once(
            c.guideline for c in self.chips if c.status in values or c.recommendation in values
        )

    @property
    def by_position(self) -> list[tuple[str, list[str]]]:
        """The guidelines grouped by position, recommended first: every position shown."""
        groups = [
            (r, _once(c.guideline for c in self.chips if c.recommendation == r))
            for r in _CARE_ORDER
        ]
        return [(r, g) for r, g in groups if g]

    @property
    def entry_item(self) -> Chip | None:
        """The position whose result form the row offers (a test still to do or to repeat)."""
        return next((c for c in self.chips if c.status in ("to_do", "repeat")), None)


def _once(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _workup_chip(w: WorkupOut) -> Chip:
    return Chip(
        w.id, w.guideline, w.recommendation, w.strength, w.evidence_quality, w.verification,
        w.statement, w.citation, w.note, w.only_in_research, w.status, w.due_date,
    )  # fmt: skip


def _care_chip(c: CareOut) -> Chip:
    return Chip(
        c.id, c.guideline, c.recommendation, c.strength, c.evidence_quality, c.verification,
        c.statement, c.citation, c.note, c.only_in_research,
    )  # fmt: skip


def _merge(entries: Iterable[tuple[str, str, Chip]]) -> list[MergedRow]:
    rows: dict[str, tuple[str, list[Chip]]] = {}
    for key, label, chip in entries:
        rows.setdefault(key, (label, []))[1].append(chip)
    return [MergedRow(key, label, tuple(chips)) for key, (label, chips) in rows.items()]


def merged_workup(a: Assessment) -> list[MergedRow]:
    """One row per test, the most pressing first (U4)."""
    rows = _merge((w.test, w.test_label, _workup_chip(w)) for w in a.workup)
    return sorted(rows, key=lambda r: _WORKUP_ORDER.index(r.status))


def merged_care(a: Assessment) -> list[MergedRow]:
    """One row per intervention (U4): those any guideline recommends first."""
    rows = _merge((c.intervention, c.intervention_label, _care_chip(c)) for c in a.care_plan)
    return sorted(rows, key=lambda r: _CARE_ORDER.index(r.strongest))


@dataclass(frozen=True)
class GuidelineStatus:
    key: str
    name: str
    meets: bool
    kind: str | None
    evaluation: str


def guideline_statuses(a: Assessment, names: dict[str, str]) -> list[GuidelineStatus]:
    return [
        GuidelineStatus(key, names.get(key, key), d.meets, d.kind, d.evaluation)
        for key, d in a.definitions.items()
    ]


@dataclass(frozen=True)
class NextSteps:
    """The care pathway in short: tests outstanding, overdue, due later and done."""

    to_do: list[MergedRow]
    overdue: list[MergedRow]
    repeat_later: list[MergedRow]
    done: list[MergedRow]


def next_steps(rows: Sequence[MergedRow], as_of: date) -> NextSteps:
    """Overdue exists only for repeat tests, whose due date the engine knows; a test no one
    has done yet has no due date, so it is 'not yet done', never 'overdue'."""

    def due(r: MergedRow) -> date | None:
        return min((c.due_date for c in r.chips if c.due_date is not None), default=None)

    repeats = [r for r in rows if r.status == "repeat"]
    return NextSteps(
        to_do=[r for r in rows if r.status == "to_do"],
        overdue=[r for r in repeats if (d := due(r)) is not None and d < as_of],
        repeat_later=[r for r in repeats if (d := due(r)) is None or d >= as_of],
        done=[r for r in rows if r.status == "done"],
    )


@dataclass(frozen=True)
class Figure:
    """A risk in words: whole percentages and the 95% prediction interval (U5)."""

    estimate: str | None
    low: str | None
    high: str | None
    ci_low: str | None
    ci_high: str | None
    reason: str | None  # why there is no number (outside the model's data)


def figure(risk: RiskOut | Mapping[str, Any]) -> Figure:
    """The figure of an engine risk (or of its dict, as the what-if rows give it)."""
    r = risk if isinstance(risk, RiskOut) else RiskOut.model_validate(risk)
    if r.estimate is None or r.interval is None:
        return Figure(None, None, None, None, None, r.reason)
    ci = r.confidence_interval
    return Figure(
        whole_pct(r.estimate),
        whole_pct(r.interval[0]),
        whole_pct(r.interval[1]),
        whole_pct(ci[0]) if ci else None,
        whole_pct(ci[1]) if ci else None,
        None,
    )


@dataclass(frozen=True)
class Setting:
    """Which published figures the estimate uses, and why, in words."""

    name: str
    why: str
    meaning: str


def setting_in_words(nxt: NextPregnancyOut) -> Setting:
    # The engine's reason reads "clinic: RPL definition met (...)": keep the part after the
    # setting's code, and name the setting in words.
    why = nxt.setting_reason.split(": ", 1)[-1]
    if nxt.setting == "clinic":
        return Setting(
            _("RPL-clinic figures"),
            why,
            _("These are figures for couples seen in a specialist RPL clinic")
            + f": {CLINIC_SETTING_EFFECT}.",
        )
    return Setting(
        _("population figures (registry data)"),
        why,
        _(
            "These are figures for all pregnancies in a population; specialist-clinic "
            "figures are lower"
        )
        + f": {CLINIC_SETTING_EFFECT}.",
    )
