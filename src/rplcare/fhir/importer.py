"""FHIR R4 Bundle (or a list of resources, e.g. CDS Hooks prefetch) → an `rplcare.case/1` case.

Pure: no files, no clock (`as_of` is passed in). Every record that carries a pregnancy code but
is not used, and every assumption (a gestation not recorded, a delivery read as a live birth),
comes back as a warning; resources unrelated to pregnancy are counted in one summary line.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from rplcare.domain.case import Case, Outcome
from rplcare.domain.validation import parse_case
from rplcare.errors import InputError
from rplcare.fhir import reading
from rplcare.fhir.episodes import SAME_PREGNANCY, Episode, Grouped, OutcomeEvent, group, resolve
from rplcare.fhir.reading import Resource
from rplcare.fhir.terminology import Code, OutcomeCode, Terminology, load_terminology
from rplcare.knowledge.loader import KnowledgeBase

# Conditions and procedures whose names say they concern a pregnancy's end; one that is not in
# the terminology table is reported by name (routine antenatal care is not).
_PREGNANCY_END = re.compile(
    r"pregnan|miscarr|abortion|ectopic|molar|hydatidiform|stillb|live ?birth|childbirth|"
    r"deliver|c(a)?esarean|termination|fetal death|fetal demise|blighted",
    re.IGNORECASE,
)
_ROUTINE = re.compile(r"normal pregnancy|pregnancy test|prenatal|antenatal", re.IGNORECASE)
_INTERPRETATION = {
    "H": "high", "HH": "high", "HU": "high",
    "L": "low", "LL": "low", "LU": "low",
    "N": "normal", "POS": "positive", "NEG": "negative",
}  # fmt: skip


@dataclass(frozen=True)
class ImportResult:
    case: Case
    document: dict[str, Any]  # the case file as written (validated into `case`)
    warnings: tuple[str, ...]


def import_bundle(
    bundle: Resource, *, as_of: date | None, kb: KnowledgeBase, patient_id: str | None = None
) -> ImportResult:
    """`as_of` None means the date of the latest dated record in the bundle."""
    if bundle.get("resourceType") != "Bundle":
        raise InputError(f"expected a FHIR Bundle, got {bundle.get('resourceType')!r}")
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        raise InputError("the Bundle has no entries")
    pairs = [
        (e.get("fullUrl") if isinstance(e.get("fullUrl"), str) else None, e["resource"])
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]
    return import_resources(pairs, as_of=as_of, kb=kb, patient_id=patient_id)


def import_resources(
    pairs: Iterable[tuple[str | None, Resource]],
    *,
    as_of: date | None,
    kb: KnowledgeBase,
    patient_id: str | None = None,
) -> ImportResult:
    """Resources with their Bundle fullUrl (None when they came without one)."""
    pairs = list(pairs)
    patient, refs = _patient(pairs, patient_id)
    records = [r for url, r in pairs if r is not patient and _belongs(r, refs)]
    others = len(pairs) - len(records) - 1
    if as_of is None:
        dates = [d.day for r in records if (d := reading.event_date(r)) is not None]
        as_of = max(dates, default=None) or _fail("no dated records: give the date (as_of)")
    document, warnings = _Importer(load_terminology(), kb, as_of).run(patient, records, others)
    return ImportResult(parse_case(document, kb, "FHIR import"), document, warnings)


def _span(g: Grouped) -> tuple[date, date]:
    """The days a pregnancy's care records can fall on: its episode, or its outcome records,
    and the follow-up fortnight after."""
    days = [e.when for e in g.events]
    start = g.episode.start if g.episode else min(days)
    end = max([*days, *([g.episode.end] if g.episode and g.episode.end else [])])
    return start, end + SAME_PREGNANCY


def _fail(message: str) -> date:
    raise InputError(message)


def _patient(
    pairs: list[tuple[str | None, Resource]], wanted: str | None
) -> tuple[Resource, set[str]]:
    patients = [(url, r) for url, r in pairs if r.get("resourceType") == "Patient"]
    if wanted is not None:
        patients = [(u, r) for u, r in patients if r.get("id") == wanted.removeprefix("Patient/")]
    if not patients:
        raise InputError(
            f"no Patient {wanted!r} in the input" if wanted else "no Patient resource in the input"
        )
    if len(patients) > 1:
        ids = ", ".join(str(r.get("id")) for _, r in patients)
        raise InputError(f"several patients ({ids}): choose one with --patient")
    url, patient = patients[0]
    # A transaction Bundle's fullUrl is often urn:uuid:<id>; references may use that form.
    pid = patient.get("id")
    refs = {f"Patient/{pid}", f"urn:uuid:{pid}"} | ({url} if url else set())
    return patient, refs


def _belongs(resource: Resource, refs: set[str]) -> bool:
    """Records about someone else are skipped; a record with no subject is taken as the
    patient's (it came from a search or prefetch for this patient)."""
    subject = reading.reference_of(resource, "subject") or reading.reference_of(resource, "patient")
    if subject is None:
        return True
    return subject in refs or any(subject.endswith("/" + r) for r in refs)


class _Importer:
    def __init__(self, term: Terminology, kb: KnowledgeBase, as_of: date) -> None:
        self.term = term
        self.kb = kb
        self.as_of = as_of
        self.warnings: list[str] = []
        self.unused: Counter[str] = Counter()
        self.conflicting: dict[str, int] = {}
        self.later: list[date] = []
        self.related: list[tuple[date | None, str]] = []  # unmapped pregnancy-related records
        self._spans: list[tuple[date, date]] = []
        self.lookup: dict[tuple[str, str], tuple[str, Code]] = {}
        for kind, codes in (
            ("episode", term.episode_markers),
            ("outcome", term.outcomes),
            ("noted", term.noted),
        ):
            for c in codes:
                self.lookup[(term.url(c.system), c.code)] = (kind, c)

    def run(
        self, patient: Resource, records: list[Resource], others: int
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        case: dict[str, Any] = {
            "schema": "rplcare.case/1",
            "as_of": self.as_of.isoformat(),
            "id": f"Patient/{patient.get('id')}"[:120],
            "patient": self._person(patient),
        }
        episodes: list[Episode] = []
        events: list[OutcomeEvent] = []
        tests: list[dict[str, Any]] = []
        lifestyle: dict[str, tuple[date, Any]] = {}
        for r in records:
            if r.get("resourceType") not in {"Condition", "Procedure", "Observation"}:
                self.unused[str(r.get("resourceType"))] += 1
                continue
            when = reading.event_date(r)
            if (void := reading.is_void(r)) is not None:
                self.warnings.append(f"{reading.describe(r)}: skipped ({void})")
                continue
            if when is not None and when.day > self.as_of:
                self.later.append(when.day)
                continue
            if not self._pregnancy_record(r, when, episodes, events):
                if r.get("resourceType") == "Observation":
                    self._observation(r, when, tests, lifestyle)
                else:
                    self._unknown(r)
        case["pregnancies"] = self._pregnancies(episodes, events)
        self._report_related()
        for code, n in sorted(self.conflicting.items()):
            entry = next(c for c in self.term.outcomes if c.code == code)
            self.warnings.append(
                f"{n} record(s) coded {code}, whose display differs between published sources, "
                f"read as {entry.outcome.value.replace('_', ' ')} ({entry.source})"
            )
        if self.later:
            self.warnings.append(
                f"{len(self.later)} records dated after {self.as_of} (up to {max(self.later)}) "
                "were skipped"
            )
        case["tests"] = tests
        if lifestyle:
            case["lifestyle"] = {k: v for k, (_, v) in lifestyle.items()}
        if others:
            self.warnings.append(f"{others} resources about other patients were skipped")
        if self.unused:
            counts = ", ".join(f"{n} {t}" for t, n in sorted(self.unused.items()))
            self.warnings.append(f"not used (no pregnancy, test or lifestyle code): {counts}")
        return case, tuple(self.warnings)

    # --- the woman ------------------------------------------------------------------------

    def _person(self, patient: Resource) -> dict[str, Any]:
        born = reading.parse_date(patient.get("birthDate"))
        if born is None:
            raise InputError("the Patient has no birthDate; rplcare needs the woman's age")
        if patient.get("gender") not in (None, "female"):
            self.warnings.append(
                f"Patient.gender is {patient.get('gender')!r}: check that this is the record "
                "of the person who was pregnant"
            )
        died = reading.parse_date(patient.get("deceasedDateTime"))
        if died is not None or patient.get("deceasedBoolean") is True:
            self.warnings.append("the Patient is recorded as deceased")
        if born.exact:
            return {"birth_date": born.day.isoformat()}
        age = self.as_of.year - born.day.year - 1
        self.warnings.append(
            f"birth date known only to the {born.precision} ({patient.get('birthDate')}): "
            f"age taken as {age}, the lower bound"
        )
        return {"age": max(age, 0)}

    # --- pregnancies ----------------------------------------------------------------------

    def _pregnancy_record(
        self,
        r: Resource,
        when: reading.FhirDate | None,
        episodes: list[Episode],
        events: list[OutcomeEvent],
    ) -> bool:
        hits = [
            self.lookup[(s, c)]
            for s, c, _ in reading.codings(r.get("code"))
            if (s, c) in self.lookup
        ]
        if not hits:
            return False
        kind, code = next((h for h in hits if h[0] == "outcome"), hits[0])
        if when is None:
            self.warnings.append(f"{reading.describe(r)}: no date, not imported")
            return True
        if kind == "episode":
            end = reading.end_date(r)
            episodes.append(
                Episode(
                    when.day, end.day if end else None, reading.is_active(r), reading.describe(r)
                )
            )
        elif kind == "outcome":
            assert isinstance(code, OutcomeCode)
            events.append(OutcomeEvent(code, when.day, reading.describe(r)))
            if code.status == "conflicting":
                self.conflicting[code.code] = self.conflicting.get(code.code, 0) + 1
        else:
            why = getattr(code, "why", "")
            self.warnings.append(f"{reading.describe(r)}: not imported: {why}")
        return True

    def _pregnancies(self, episodes: list[Episode], events: list[OutcomeEvent]) -> list[Any]:
        grouped, empty = group(episodes, events)
        for ep in empty:
            if ep.end is None and ep.active:
                self.warnings.append(
                    f"an ongoing pregnancy since {ep.start} ({ep.record}): its gestational age "
                    "is not recorded, so it is not in the case; add current_pregnancy to get the "
                    "estimate for this pregnancy"
                )
            else:
                self.warnings.append(
                    f"pregnancy episode {ep.record} has no outcome record: not imported"
                )
        self._spans = [_span(g) for g in grouped]
        out: list[dict[str, Any]] = []
        placeholders: dict[float, list[str]] = {}
        deliveries: list[str] = []
        for number, g in enumerate(grouped, start=1):
            res = resolve(g)
            if res.conflict:
                self.warnings.append(f"pregnancy {number}: {res.conflict}")
            if res.outcome in (Outcome.MISCARRIAGE, Outcome.ANEMBRYONIC) and not res.trimester:
                self.warnings.append(
                    f"pregnancy {number}: no code says the trimester; counted as first-trimester"
                )
            weeks = self._placeholder_weeks(res.outcome, res.trimester)
            placeholders.setdefault(weeks, []).append(str(number))
            if res.outcome is Outcome.LIVE_BIRTH and all(e.code.delivery_only for e in g.events):
                deliveries.append(str(number))
            note = "Imported from FHIR: " + "; ".join(sorted({e.record for e in g.events}))
            if g.episode is None:
                note += " (no pregnancy episode record)"
            out.append(
                {
                    "outcome": res.outcome.value,
                    "end_date": res.end.isoformat(),
                    "gestational_weeks": weeks,
                    "gestational_weeks_assumed": True,
                    "notes": note,
                }
            )
        if placeholders:
            used = "; ".join(
                f"{weeks:g} weeks for pregnancy {', '.join(numbers)}"
                for weeks, numbers in sorted(placeholders.items())
            )
            self.warnings.append(
                "gestation not recorded: each pregnancy is placed in the trimester its codes say "
                f"with a placeholder marked as assumed ({used}); APS criteria that depend on "
                "gestation are not applied to them"
            )
        if deliveries:
            self.warnings.append(
                f"pregnancy {', '.join(deliveries)}: a delivery procedure was read as a live birth "
                "(the record does not say whether the baby was born alive)"
            )
        return out

    def _placeholder_weeks(self, outcome: Outcome, trimester: str | None) -> float:
        """A gestation that puts the pregnancy in the class its codes say, from the knowledge
        base's own boundaries (never a clinical estimate; the case marks it as assumed)."""
        boundary = self.kb.history.second_trimester_from_weeks
        viability = self.kb.history.viability_weeks
        if outcome in (Outcome.LIVE_BIRTH, Outcome.STILLBIRTH):
            return viability.value
        if trimester == "second":
            return boundary.value
        first = boundary.value - 1
        assert not boundary.holds(first)  # the knowledge base's boundary is "from 13 weeks"
        return first

    # --- tests and lifestyle --------------------------------------------------------------

    def _observation(
        self,
        r: Resource,
        when: reading.FhirDate | None,
        tests: list[dict[str, Any]],
        lifestyle: dict[str, tuple[date, Any]],
    ) -> None:
        loinc = self.term.url("loinc")
        codes = {c for s, c, _ in reading.codings(r.get("code")) if s == loinc}
        for name, entry in self.term.lifestyle.items():
            if codes & {c.code for c in entry.codes}:
                self._lifestyle(name, r, when, lifestyle)
                return
        test = next((t for c in codes if (t := self.term.test_for_loinc(c))), None)
        if test is None:
            self.unused["Observation"] += 1
            return
        if when is None or not when.exact:
            self.warnings.append(f"{reading.describe(r)}: no exact date, not imported")
            return
        item: dict[str, Any] = {"code": test, "date": when.day.isoformat()}
        quantity = r.get("valueQuantity")
        if isinstance(quantity, dict) and isinstance(quantity.get("value"), int | float):
            unit = self.term.tests[test].units.get(
                str(quantity.get("code") or quantity.get("unit"))
            )
            if unit is None:
                self.warnings.append(
                    f"{reading.describe(r)}: unit {quantity.get('code') or quantity.get('unit')!r}"
                    " is not one rplcare reads for this test; value not imported"
                )
            else:
                item |= {"value": float(quantity["value"]), "unit": unit}
        allowed = self.kb.vocabulary.tests[test].results
        flags = [
            _INTERPRETATION[c]
            for concept in r.get("interpretation") or []
            for _, c, _ in reading.codings(concept)
            if c in _INTERPRETATION and _INTERPRETATION[c] in allowed
        ]
        if flags:
            item["result"] = flags[0]
        if "value" not in item and "result" not in item:
            self.warnings.append(
                f"{reading.describe(r)}: no value or interpretation rplcare can read, not imported"
            )
            return
        tests.append(item)

    def _lifestyle(
        self,
        name: str,
        r: Resource,
        when: reading.FhirDate | None,
        found: dict[str, tuple[date, Any]],
    ) -> None:
        entry = self.term.lifestyle[name]  # type: ignore[index]
        day = when.day if when else date.min
        value: Any = None
        if name == "bmi":
            q = r.get("valueQuantity") or {}
            if str(q.get("code") or q.get("unit")) in entry.units and isinstance(
                q.get("value"), int | float
            ):
                value = round(float(q["value"]), 1)
        else:
            answer = {(s, c) for s, c, _ in reading.codings(r.get("valueCodeableConcept"))}
            known = {(self.term.url(c.system), c.code) for c in entry.not_smoking}
            value = False if answer & known else None
        if value is None:
            self.warnings.append(f"{reading.describe(r)}: value not read ({name})")
            return
        key = "bmi" if name == "bmi" else "smoker"
        if key not in found or found[key][0] <= day:
            found[key] = (day, value)

    def _unknown(self, r: Resource) -> None:
        name = reading.label(r.get("code"))
        if _PREGNANCY_END.search(name) and not _ROUTINE.search(name):
            when = reading.event_date(r)
            self.related.append((when.day if when else None, reading.describe(r)))
        else:
            self.unused[str(r.get("resourceType"))] += 1

    def _report_related(self) -> None:
        """Pregnancy-related records the table does not map: those dated within an imported
        pregnancy are its care (counselling, follow-up); the others may be a pregnancy rplcare
        missed, so each is named."""
        inside = 0
        for when, record in self.related:
            if when is not None and any(a <= when <= b for a, b in self._spans):
                inside += 1
            else:
                self.warnings.append(
                    f"{record}: a pregnancy-related code rplcare does not map; "
                    "add the pregnancy by hand if it is one"
                )
        if inside:
            self.unused["pregnancy-care records within imported pregnancies"] += inside
