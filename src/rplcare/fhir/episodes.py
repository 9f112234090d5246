"""From coded events to pregnancies.

A FHIR record has no "pregnancy with its outcome" resource (ecosystem reference §B.1, §D.1).
Synthea, and many EHRs, record a pregnancy episode (SNOMED 72892002) and, separately, the loss,
termination or delivery. So: each episode becomes one pregnancy whose outcome is read from the
events dated inside it; events outside every episode (older history, other sources) are
grouped by date into pregnancies of their own. Never count the outcome rows themselves:
Synthea's 19169002 is opened once and never closed, whatever the number of losses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from rplcare.domain.case import Outcome
from rplcare.fhir.terminology import OutcomeCode

# Outcome records of one pregnancy are dated together (diagnosis, then its management within
# days); two different pregnancies cannot end within two weeks of each other.
SAME_PREGNANCY = timedelta(days=14)

_LOSS = {Outcome.MISCARRIAGE, Outcome.ANEMBRYONIC}
_FAMILY = {
    Outcome.MISCARRIAGE: "early end",
    Outcome.ANEMBRYONIC: "early end",
    Outcome.BIOCHEMICAL: "early end",
    # Synthea reaches ectopic and molar pregnancies through miscarriage codes: same family.
    Outcome.ECTOPIC: "early end",
    Outcome.MOLAR: "early end",
    Outcome.TERMINATION: "termination",
    Outcome.LIVE_BIRTH: "birth",
    Outcome.STILLBIRTH: "birth",
}
# Among same-day codes of one pregnancy, the most specific wins.
_SPECIFICITY = [
    Outcome.ECTOPIC,
    Outcome.MOLAR,
    Outcome.ANEMBRYONIC,
    Outcome.MISCARRIAGE,
    Outcome.STILLBIRTH,
    Outcome.LIVE_BIRTH,
    Outcome.TERMINATION,
]


@dataclass(frozen=True)
class OutcomeEvent:
    code: OutcomeCode
    when: date
    record: str  # describe() of the source resource, for notes and warnings


@dataclass
class Episode:
    start: date
    end: date | None
    active: bool
    record: str
    events: list[OutcomeEvent] = field(default_factory=list)


@dataclass(frozen=True)
class Grouped:
    """One pregnancy's evidence: its events, and the episode they were found in, if any."""

    events: tuple[OutcomeEvent, ...]
    episode: Episode | None


def group(
    episodes: list[Episode], events: list[OutcomeEvent]
) -> tuple[list[Grouped], list[Episode]]:
    """Pregnancies with their events, and the episodes left without any outcome."""
    ordered = sorted(episodes, key=lambda e: e.start)
    loose: list[OutcomeEvent] = []
    for event in sorted(events, key=lambda e: e.when):
        home = [
            ep
            for ep in ordered
            if ep.start <= event.when and (ep.end is None or event.when <= ep.end)
        ]
        if home:
            home[-1].events.append(event)  # overlapping episodes: the one that began last
        else:
            loose.append(event)
    out = [Grouped(tuple(ep.events), ep) for ep in ordered if ep.events]
    cluster: list[OutcomeEvent] = []
    for event in loose:
        if cluster and event.when - cluster[0].when > SAME_PREGNANCY:
            out.append(Grouped(tuple(cluster), None))
            cluster = []
        cluster.append(event)
    if cluster:
        out.append(Grouped(tuple(cluster), None))
    out.sort(key=lambda g: max(e.when for e in g.events))
    return out, [ep for ep in ordered if not ep.events]


@dataclass(frozen=True)
class Resolved:
    outcome: Outcome
    end: date
    trimester: str | None
    conflict: str | None  # why the codes disagreed, when they did


def resolve(grouped: Grouped) -> Resolved:
    """The pregnancy ended as its latest event says; on one day, the most specific code wins."""
    last_day = max(e.when for e in grouped.events)
    final = min(
        (e for e in grouped.events if e.when == last_day),
        key=lambda e: _SPECIFICITY.index(e.code.outcome),
    )
    outcome = final.code.outcome
    families = {_FAMILY[e.code.outcome] for e in grouped.events}
    conflict = None
    if len(families) > 1:
        conflict = (
            "its records disagree ("
            + "; ".join(sorted({e.record for e in grouped.events}))
            + f"); read as {outcome.value.replace('_', ' ')}, the latest"
        )
    trimester = None
    if outcome in _LOSS:
        said = {e.code.trimester for e in grouped.events if e.code.outcome in _LOSS}
        trimester = "second" if "second" in said else "first" if "first" in said else None
    return Resolved(outcome, final.when, trimester, conflict)
