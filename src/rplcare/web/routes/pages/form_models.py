"""The clinician forms, each declared once as a FastAPI form model (`Annotated[M, Form()]`).

Every field is raw text, so that a value that does not parse reaches the domain validation and
is reported by it, next to its field. A field's `title` is its label: the error summary names
the field by it (U6). Each model turns its texts into the part of a `rplcare.case/1` case it
edits; validation stays in the domain.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from rplcare.web.routes.pages.forms import _, as_flag, as_float, as_int, as_text, put

_WEEKS_DAYS = re.compile(r"\s*(\d{1,3})\s*\+\s*([0-6])\s*")


def as_gestation_days(raw: str) -> int | str | None:
    """Days from weeks+days as clinicians write it ("6+3" is 45), or a plain number of days."""
    if match := _WEEKS_DAYS.fullmatch(raw):
        return int(match[1]) * 7 + int(match[2])
    return as_int(raw)


def as_gestation_weeks(raw: str) -> float | str | None:
    """Weeks from weeks+days ("8+3") or a plain number of weeks (8.5)."""
    if match := _WEEKS_DAYS.fullmatch(raw):
        return round(int(match[1]) + int(match[2]) / 7, 4)
    return as_float(raw)


def weeks_text(weeks: float) -> str:
    """Stored weeks as a form shows them: "8+3" when they are whole days, else "8.5"."""
    days = weeks * 7
    if abs(days - round(days)) < 0.01 and round(days) % 7:
        return f"{round(days) // 7}+{round(days) % 7}"
    return f"{weeks:g}"


def _text(label: str, **extra: Any) -> Any:
    return Field("", title=label, **extra)


class FormModel(BaseModel):
    """A posted form: its CSRF field and its text fields."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    csrf: str = ""

    #: field name -> case path relative to the part the form edits (default: the name)
    PATHS: ClassVar[dict[str, str]] = {}

    @classmethod
    def _keys(cls) -> dict[str, str]:
        """Attribute name -> the posted name (its alias if any), for the labelled fields."""
        return {n: f.alias or n for n, f in cls.model_fields.items() if f.title is not None}

    @classmethod
    def labels(cls) -> dict[str, str]:
        """Posted name -> label."""
        return {cls._keys()[n]: f.title for n, f in cls.model_fields.items() if f.title}

    def submitted(self) -> dict[str, str]:
        """The texts as entered, by posted name (to show them again after an error)."""
        return {key: str(getattr(self, n)) for n, key in self._keys().items()}

    @classmethod
    def inputs(cls, prefix: str = "", at: str = "") -> dict[str, str]:
        """Case path -> input id (`prefix` + posted name)."""
        dot = f"{at}." if at else ""
        return {dot + cls.PATHS.get(k, k): prefix + k for k in cls._keys().values()}


class CoupleForm(FormModel):
    """New couple and Edit couple details: demographics and lifestyle."""

    label: str = _text(_("Label (a clinic reference, not a name)"))
    patient_age: str = _text(_("Age (years)"))
    patient_birth_date: str = _text(_("Birth date"))
    pcos: str = _text(_("Polycystic ovary syndrome (PCOS)"))
    partner_age: str = _text(_("Partner's age (years, optional)"))
    partner_birth_date: str = _text(_("Partner's birth date"))
    smoker: str = _text(_("Smoker"))
    bmi: str = _text(_("Body mass index (kg/m²)"))
    alcohol: str = _text(_("Alcohol (units per week)"))
    caffeine: str = _text(_("Caffeine (mg per day)"))

    PATHS: ClassVar[dict[str, str]] = {
        "label": "id",
        "patient_age": "patient.age",
        "patient_birth_date": "patient.birth_date",
        "pcos": "patient.pcos",
        "partner_age": "partner.age",
        "partner_birth_date": "partner.birth_date",
        "smoker": "lifestyle.smoker",
        "bmi": "lifestyle.bmi",
        "alcohol": "lifestyle.alcohol_units_per_week",
        "caffeine": "lifestyle.caffeine_mg_per_day",
    }

    def apply_to(self, case: dict[str, Any]) -> None:
        """Replace the case's label, patient, partner and lifestyle by the form's."""
        case["id"] = self.label.strip()
        patient: dict[str, Any] = {}
        put(patient, "age", as_int(self.patient_age))
        put(patient, "birth_date", as_text(self.patient_birth_date))
        put(patient, "pcos", as_flag(self.pcos))
        case["patient"] = patient
        partner: dict[str, Any] = {}
        put(partner, "age", as_int(self.partner_age))
        put(partner, "birth_date", as_text(self.partner_birth_date))
        _set_or_drop(case, "partner", partner)
        lifestyle: dict[str, Any] = {}
        put(lifestyle, "smoker", as_flag(self.smoker))
        put(lifestyle, "bmi", as_float(self.bmi))
        put(lifestyle, "alcohol_units_per_week", as_float(self.alcohol))
        put(lifestyle, "caffeine_mg_per_day", as_float(self.caffeine))
        _set_or_drop(case, "lifestyle", lifestyle)

    def new_case(self, today: date) -> dict[str, Any]:
        case: dict[str, Any] = {
            "schema": "rplcare.case/1",
            "as_of": today.isoformat(),
            "pregnancies": [],
            "tests": [],
        }
        self.apply_to(case)
        return case

    @classmethod
    def of_case(cls, case: dict[str, Any]) -> CoupleForm:
        """The form filled in from a stored case."""
        patient, partner = case["patient"], case.get("partner", {})
        life = case.get("lifestyle", {})

        def text(value: Any) -> str:
            if isinstance(value, bool):
                return "yes" if value else "no"
            return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

        return cls(
            label=case.get("id") or "",
            patient_age=text(patient.get("age")),
            patient_birth_date=text(patient.get("birth_date")),
            pcos=text(patient.get("pcos")),
            partner_age=text(partner.get("age")),
            partner_birth_date=text(partner.get("birth_date")),
            smoker=text(life.get("smoker")),
            bmi=text(life.get("bmi")),
            alcohol=text(life.get("alcohol_units_per_week")),
            caffeine=text(life.get("caffeine_mg_per_day")),
        )


def _set_or_drop(case: dict[str, Any], key: str, part: dict[str, Any]) -> None:
    if part:
        case[key] = part
    else:
        case.pop(key, None)


class PregnancyForm(FormModel):
    """Add, edit, or record the outcome of the current pregnancy."""

    outcome: str = _text(_("Outcome"))
    end_date: str = _text(_("End date"))
    gestational_weeks: str = _text(_("Gestation at the end (weeks+days, or weeks)"))
    heartbeat_seen: str = _text(_("Heartbeat seen"))
    partner: str = _text(_("Partner"))
    notes: str = _text(_("Notes"), max_length=2000)

    def part(self) -> dict[str, Any]:
        preg: dict[str, Any] = {
            "outcome": self.outcome.strip(),
            "end_date": self.end_date.strip(),
            "gestational_weeks": as_gestation_weeks(self.gestational_weeks),
        }
        put(preg, "heartbeat_seen", as_flag(self.heartbeat_seen))
        put(preg, "partner", as_text(self.partner))
        put(preg, "notes", as_text(self.notes))
        return preg

    @classmethod
    def of_part(cls, preg: dict[str, Any]) -> PregnancyForm:
        flag = preg.get("heartbeat_seen")
        return cls(
            outcome=preg["outcome"],
            end_date=preg["end_date"],
            gestational_weeks=weeks_text(preg["gestational_weeks"]),
            heartbeat_seen="" if flag is None else "yes" if flag else "no",
            partner=preg.get("partner") or "",
            notes=preg.get("notes") or "",
        )


class TestForm(FormModel):
    """Record or edit a test result. `choice` ("tsh:high", or "tsh:" for a value without a
    laboratory flag) picks the test and its result in one select; the work-up's inline forms
    post `code` and `result` instead."""

    __test__ = False  # not a pytest class

    form: str = Field("test-any", max_length=200)
    choice: str = _text(_("Test and result"))
    code: str = _text(_("Test"))
    date_: str = _text(_("Date"), alias="date")
    result: str = _text(_("Result"))
    value: str = _text(_("Value"))
    unit: str = _text(_("Unit"))
    method: str = _text(_("Method"), max_length=60)
    detail: str = _text(_("Detail"), max_length=2000)
    pregnancy: str = _text(_("Tissue from pregnancy"))

    def chosen(self) -> tuple[str, str]:
        """(code, result) from `choice` when given, else from `code` and `result`."""
        if ":" in self.choice:
            code, _sep, result = self.choice.partition(":")
            return code.strip(), result.strip()
        return self.code.strip(), self.result.strip()

    def part(self) -> dict[str, Any]:
        code, result = self.chosen()
        test: dict[str, Any] = {"code": code, "date": self.date_.strip()}
        put(test, "result", as_text(result))
        put(test, "value", as_float(self.value))
        put(test, "unit", as_text(self.unit))
        put(test, "method", as_text(self.method))
        put(test, "detail", as_text(self.detail))
        index = as_int(self.pregnancy)
        put(test, "pregnancy", index - 1 if isinstance(index, int) else index)  # 1-based here
        return test

    @classmethod
    def inputs(cls, prefix: str = "", at: str = "") -> dict[str, str]:
        ids = super().inputs(prefix, at)
        del ids[f"{at}.choice" if at else "choice"]
        return ids

    def input_ids(self, at: str, combined: bool = True) -> dict[str, str]:
        """Case path -> input name. A form with the combined select shows problems with the
        test, its result, or the result as a whole on that one input."""
        ids = self.inputs(at=at)
        if combined:
            ids[f"{at}.code"] = ids[f"{at}.result"] = "choice"
        ids[at] = ids[f"{at}.result"]
        return ids

    @classmethod
    def of_part(cls, test: dict[str, Any]) -> TestForm:
        value = test.get("value")
        index = test.get("pregnancy")
        return cls(
            choice=f"{test['code']}:{test.get('result') or ''}",
            date=test["date"],
            value="" if value is None else f"{value:g}",
            unit=test.get("unit") or "",
            method=test.get("method") or "",
            detail=test.get("detail") or "",
            pregnancy="" if index is None else str(index + 1),
        )


class CurrentForm(FormModel):
    """Set or clear the current pregnancy."""

    action: str = "set"
    gestational_age_days: str = _text(_("Gestational age today"))
    heartbeat_seen: str = _text(_("Heartbeat seen"))
    bleeding: str = _text(_("Bleeding"))
    intrauterine_confirmed: str = _text(_("Intrauterine pregnancy confirmed by scan"))

    def part(self) -> dict[str, Any]:
        current: dict[str, Any] = {
            "gestational_age_days": as_gestation_days(self.gestational_age_days)
        }
        put(current, "heartbeat_seen", as_flag(self.heartbeat_seen))
        put(current, "bleeding", as_flag(self.bleeding))
        put(current, "intrauterine_confirmed", as_flag(self.intrauterine_confirmed))
        return current


class ConfirmForm(FormModel):
    """A delete confirmation: only the CSRF field."""


#: Case paths by the label of the field that edits them, for listing changes (import).
FIELD_LABELS = {
    **{CoupleForm.PATHS[k]: label for k, label in CoupleForm.labels().items()},
    **{f"current_pregnancy.{k}": label for k, label in CurrentForm.labels().items()},
    "current_pregnancy.gestational_age_days": _("Current pregnancy: gestational age (days)"),
}
