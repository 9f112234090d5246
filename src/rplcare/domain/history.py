"""Derived obstetric history: computed from the pregnancy list every time, never stored.

Chronology is by `end_date` (ties keep file order). Conventions that need numbers (the
trimester boundary, viability) come in as arguments from the knowledge base.

Consecutive losses are counted backwards from now: each loss adds one, a birth (live or still)
or a termination ends the run, and ectopic or molar pregnancies are passed over because no
definition counts them as losses nor are they a pregnancy carried on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from rplcare.domain.case import Case, Outcome, Person, Pregnancy
from rplcare.knowledge.schema import HistoryConventions, Threshold


class LossKind(StrEnum):
    BIOCHEMICAL = "biochemical"
    CLINICAL_FIRST_TRIMESTER = "clinical_first_trimester"
    SECOND_TRIMESTER = "second_trimester"


_CLINICAL_LOSS = {Outcome.MISCARRIAGE, Outcome.ANEMBRYONIC}
_BIRTH = {Outcome.LIVE_BIRTH, Outcome.STILLBIRTH}
_NEITHER = {Outcome.ECTOPIC, Outcome.MOLAR}


@dataclass(frozen=True)
class Event:
    """One pregnancy in chronological position, with what it is for RPL purposes."""

    index: int  # position in the case file's `pregnancies` list
    pregnancy: Pregnancy
    loss_kind: LossKind | None

    @property
    def is_birth(self) -> bool:
        return self.pregnancy.outcome in _BIRTH

    def describe(self) -> str:
        p = self.pregnancy
        label = p.outcome.value.replace("_", " ")
        partner = ", previous partner" if p.partner == "previous" else ""
        weeks = (
            f"gestation not recorded, counted as {p.gestational_weeks:g} weeks"
            if p.gestational_weeks_assumed
            else f"{p.gestational_weeks:g} weeks"
        )
        when = f"{weeks}, {p.end_date}{partner}"
        return f"pregnancy {self.index + 1} ({label}, {when})"


@dataclass(frozen=True)
class History:
    events: tuple[Event, ...]

    def losses(self, *kinds: LossKind) -> list[Event]:
        wanted = set(kinds) or set(LossKind)
        return [e for e in self.events if e.loss_kind in wanted]

    @property
    def losses_total(self) -> int:
        return len(self.losses())

    @property
    def losses_biochemical(self) -> int:
        return len(self.losses(LossKind.BIOCHEMICAL))

    @property
    def losses_first_trimester(self) -> int:
        return len(self.losses(LossKind.CLINICAL_FIRST_TRIMESTER))

    @property
    def losses_second_trimester(self) -> int:
        return len(self.losses(LossKind.SECOND_TRIMESTER))

    @property
    def losses_clinical(self) -> int:
        return self.losses_first_trimester + self.losses_second_trimester

    def count(self, outcome: Outcome) -> int:
        return sum(e.pregnancy.outcome is outcome for e in self.events)

    @property
    def live_births(self) -> int:
        return self.count(Outcome.LIVE_BIRTH)

    @property
    def consecutive_losses(self) -> int:
        run = 0
        for e in reversed(self.events):
            if e.loss_kind is not None:
                run += 1
            elif e.pregnancy.outcome in _NEITHER:
                continue
            else:
                break
        return run

    @property
    def losses_since_last_birth(self) -> int:
        run = 0
        for e in reversed(self.events):
            if e.is_birth:
                break
            run += e.loss_kind is not None
        return run

    def births_before(self, event: Event) -> list[Event]:
        return [e for e in self.events[: self.events.index(event)] if e.is_birth]

    def longest_run_of(self, qualifies: Callable[[Event], bool]) -> list[Event]:
        """The longest run of consecutive qualifying losses: other losses, ectopic and molar
        pregnancies are passed over; a birth or a termination ends the run."""
        return self._longest_run(
            qualifies,
            ends_run=lambda e: e.loss_kind is None and e.pregnancy.outcome not in _NEITHER,
        )

    def longest_consecutive_run(self, qualifies: set[int]) -> list[Event]:
        """Longest run of consecutive losses whose indexes are in `qualifies` (ectopic and
        molar pregnancies are passed over, anything else breaks the run)."""
        return self._longest_run(
            lambda e: e.index in qualifies, ends_run=lambda e: e.pregnancy.outcome not in _NEITHER
        )

    def _longest_run(
        self, qualifies: Callable[[Event], bool], ends_run: Callable[[Event], bool]
    ) -> list[Event]:
        """The first of the longest runs of qualifying events; events that neither qualify nor
        end the run are passed over."""
        best: list[Event] = []
        run: list[Event] = []
        for e in self.events:
            if qualifies(e):
                run.append(e)
                best = max(best, run, key=len)
            elif ends_run(e):
                run = []
        return list(best)


def loss_kind(p: Pregnancy, second_trimester: Threshold) -> LossKind | None:
    if p.outcome is Outcome.BIOCHEMICAL:
        return LossKind.BIOCHEMICAL
    if p.outcome in _CLINICAL_LOSS:
        if second_trimester.holds(p.gestational_weeks):
            return LossKind.SECOND_TRIMESTER
        return LossKind.CLINICAL_FIRST_TRIMESTER
    return None


def derive_history(case: Case, conventions: HistoryConventions) -> History:
    boundary = conventions.second_trimester_from_weeks
    order = sorted(range(len(case.pregnancies)), key=lambda i: case.pregnancies[i].end_date)
    return History(
        tuple(
            Event(i, case.pregnancies[i], loss_kind(case.pregnancies[i], boundary)) for i in order
        )
    )


def person_age(person: Person | None, as_of: date) -> int | None:
    """A person's age in whole years on `as_of` (given, or from the birth date)."""
    if person is None or person.age is not None:
        return person.age if person else None
    if person.birth_date is None:
        return None
    b = person.birth_date
    return as_of.year - b.year - ((as_of.month, as_of.day) < (b.month, b.day))


def age_at(case: Case) -> int:
    """The patient's age in whole years on `as_of`."""
    age = person_age(case.patient, case.as_of)
    assert age is not None  # the Patient model requires an age or a birth date
    return age
