"""The public risk page: a plain GET form, no login, nothing stored.

The answers travel only in the query string, so a result can be bookmarked or shared and the
server keeps nothing. Invalid input re-renders the form with an inline message next to the
field (HTTP 422), never a 500. Every number on the page comes from `quick_risk`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from rplcare.errors import InputError
from rplcare.prognosis.predict import CLINIC_SETTING_EFFECT
from rplcare.prognosis.quick import (
    AGE_RANGE,
    BMI_RANGE,
    DISCLAIMER,
    MAX_BIRTHS,
    MAX_GESTATIONAL_DAYS,
    MAX_LOSSES,
    quick_risk,
)
from rplcare.web.charts import curve_svg, gestation, pct, risk_bar_svg
from rplcare.web.i18n import N_
from rplcare.web.i18n import translate as _

router = APIRouter()

TEMPLATE = "public/risk.html"
#: The query parameters the page understands, in form order.
FIELDS = (
    "age",
    "losses",
    "live_births",
    "bmi",
    "smoker",
    "pcos",
    "gestational_days",
    "heartbeat",
    "if_stop_smoking",
    "if_bmi",
    "if_years_older",
)
CHECKBOXES = ("smoker", "pcos", "heartbeat", "if_stop_smoking")
#: Most years ahead the what-if form looks (data entry bound, not a clinical threshold).
MAX_YEARS_AHEAD = 20
_TRUE = frozenset({"1", "true", "on", "yes"})
_FALSE = frozenset({"", "0", "false", "off", "no"})
#: Plain decimal numbers only: no exponents, no "nan"/"inf", no underscores; "," as decimal mark.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]+)?|[.,][0-9]+)", re.ASCII)
_MAX_INPUT = 20


def _g(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class NumberField:
    """How to read one numeric query parameter; bounds come from `rplcare.prognosis.quick`."""

    name: str
    lo: float
    hi: float
    whole: bool
    required: bool
    missing: str  # message when a required field is empty
    out_of_range: str  # message with {lo} and {hi}


NUMBER_FIELDS = (
    NumberField(
        "age",
        *AGE_RANGE,
        whole=False,
        required=True,
        missing=N_("Enter your age in years."),
        out_of_range=N_("Enter an age from {lo} to {hi} years."),
    ),
    NumberField(
        "losses",
        0,
        MAX_LOSSES,
        whole=True,
        required=True,
        missing=N_("Enter the number of pregnancy losses (0 if none)."),
        out_of_range=N_("Enter a number of losses from {lo} to {hi}."),
    ),
    NumberField(
        "live_births",
        0,
        MAX_BIRTHS,
        whole=True,
        required=False,
        missing="",
        out_of_range=N_("Enter a number of live births from {lo} to {hi}."),
    ),
    NumberField(
        "bmi",
        *BMI_RANGE,
        whole=False,
        required=False,
        missing="",
        out_of_range=N_("Enter a BMI from {lo} to {hi}, or leave it empty."),
    ),
    NumberField(
        "if_bmi",
        *BMI_RANGE,
        whole=False,
        required=False,
        missing="",
        out_of_range=N_("Enter a BMI from {lo} to {hi}, or leave it empty."),
    ),
    NumberField(
        "if_years_older",
        1,
        MAX_YEARS_AHEAD,
        whole=True,
        required=False,
        missing="",
        out_of_range=N_("Enter a number of years from {lo} to {hi}, or leave it empty."),
    ),
    NumberField(
        "gestational_days",
        0,
        MAX_GESTATIONAL_DAYS,
        whole=True,
        required=False,
        missing="",
        out_of_range=N_("Enter a number of days from {lo} to {hi}, or leave it empty."),
    ),
)


def parse_number(field: NumberField, raw: str) -> tuple[float | None, str | None]:
    """(value, None) or (None, message). An empty optional field is (None, None)."""
    text = raw.strip()
    if not text:
        return None, (_(field.missing) if field.required else None)
    if len(text) > _MAX_INPUT or not _NUMBER.fullmatch(text):
        return None, _("Enter a number, using digits only.")
    value = float(text.replace(",", "."))
    if field.whole and value != int(value):
        return None, _("Enter a whole number.")
    if not field.lo <= value <= field.hi:
        return None, _(field.out_of_range).format(lo=_g(field.lo), hi=_g(field.hi))
    return value, None


def parse_flag(raw: str | None) -> tuple[bool, str | None]:
    """A checkbox: absent or empty is False; "1", "on", "true", "yes" are True."""
    if raw is None:
        return False, None
    text = raw.strip().lower()
    if text in _TRUE:
        return True, None
    if text in _FALSE:
        return False, None
    return False, _("Tick the box or leave it empty.")


def parse_query(query: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The inputs for `quick_risk` and a message per invalid field (empty if all are valid).

    The messages are in form order, so an error summary reads top to bottom.
    """
    errors: dict[str, str] = {}
    numbers: dict[str, float | None] = {}
    for field in NUMBER_FIELDS:
        numbers[field.name], error = parse_number(field, query.get(field.name, ""))
        if error:
            errors[field.name] = error
    flags: dict[str, bool] = {}
    for flag in CHECKBOXES:
        flags[flag], error = parse_flag(query.get(flag))
        if error:
            errors[flag] = error
    if numbers["if_bmi"] is not None and numbers["bmi"] is None:
        errors["if_bmi"] = _("Enter your current BMI above to compare it with another BMI.")
    if flags["if_stop_smoking"] and not flags["smoker"]:
        errors["if_stop_smoking"] = _("Tick “I smoke” above, or untick this box.")
    if flags["heartbeat"] and numbers["gestational_days"] is None:
        errors.setdefault(
            "gestational_days",
            _("Enter how far the current pregnancy has come, or untick the heartbeat box."),
        )

    def whole(name: str, default: int | None) -> int | None:
        value = numbers[name]
        return default if value is None else int(value)

    values: dict[str, Any] = {
        "age": numbers["age"],
        "losses": whole("losses", None),
        "live_births": whole("live_births", 0),
        "bmi": numbers["bmi"],
        "smoker": flags["smoker"],
        "pcos": flags["pcos"],
        "gestational_days": whole("gestational_days", None),
        "heartbeat": flags["heartbeat"],
        "what_if": _changes(
            flags["if_stop_smoking"], numbers["if_bmi"], whole("if_years_older", None)
        ),
    }
    return values, {name: errors[name] for name in FIELDS if name in errors}


def _changes(stop_smoking: bool, bmi: float | None, years_older: int | None) -> list[str]:
    """The what-if form as `--what-if` changes (rplcare.prognosis.whatif)."""
    out = ["smoker=false"] if stop_smoking else []
    if bmi is not None:
        out.append(f"bmi={_g(bmi)}")
    if years_older is not None:
        out.append(f"age=+{years_older}")
    return out


def describe_change(change: str) -> str:
    """A what-if change in words ("you stopped smoking"), not its code ("smoker=false")."""
    if change.startswith("together: "):
        parts = [describe_change(c) for c in change.removeprefix("together: ").split(", ")]
        return _("all of these together: {changes}").format(changes="; ".join(parts))
    name, _sep, value = change.partition("=")
    if name == "smoker" and value == "false":
        return _("you stopped smoking")
    if name == "bmi":
        return _("your BMI were {bmi}").format(bmi=value)
    if name == "age" and value.startswith("+"):
        return _("you tried again {n} year(s) later").format(n=value[1:])
    return change


def _input_error_field(exc: InputError) -> str | None:
    """The form field an InputError from quick_risk names ("--live-births: ..."), if any."""
    match = re.match(r"--([a-z-]+):", str(exc))
    name = match.group(1).replace("-", "_") if match else None
    return name if name in FIELDS else None


def _estimate_view(key: str, label: str, data: Mapping[str, Any]) -> dict[str, Any]:
    if data["estimate"] is None:
        # Outside the model's data: the reason instead of a number, no chart.
        reason = _("not estimated") + f": {data['reason']}"
        return {"key": key, "label": label, "estimate": reason, "low": "–", "high": "–",
                "ci_low": "–", "ci_high": "–", "chart": None, "out_of_range": True}  # fmt: skip
    low, high = data["interval"]
    ci_low, ci_high = data["confidence_interval"]
    return {
        "key": key,
        "label": label,
        "estimate": pct(data["estimate"]),
        "low": pct(low),
        "high": pct(high),
        "ci_low": pct(ci_low),
        "ci_high": pct(ci_high),
        # Markup: charts.py escapes every piece of text it puts into the SVG.
        "chart": Markup(
            risk_bar_svg(
                data["estimate"], (low, high), label, chart_id=f"chart-{key}", compact=True
            )
        ),
    }


def build_view(result: Mapping[str, Any]) -> dict[str, Any]:
    """Template-ready pieces of a `quick_risk` result: formatted numbers and SVG charts."""
    nxt = result["next_pregnancy"]
    view: dict[str, Any] = {
        "next_estimates": [
            _estimate_view(
                "miscarriage",
                _("Miscarriage in the next pregnancy"),
                nxt["miscarriage_risk"],
            ),
            _estimate_view(
                "live-birth",
                _("Live birth from the next pregnancy"),
                nxt["live_birth_chance"],
            ),
        ],
        "next_drivers": list(nxt["drivers"]),
        "not_covered": list(nxt.get("not_covered", [])),
        "current": None,
        "cumulative": [
            _estimate_view(
                f"within-{y['years']}",
                _("A pregnancy that leads to a baby, begun within {n} year(s)").format(
                    n=y["years"]
                ),
                y,
            )
            for y in result.get("cumulative_live_birth", {}).get("years", [])
        ],
        "what_if": [
            {
                "change": describe_change(w["change"]),
                "effect": w["effect"],
                "citation": w["citation"],
                "estimates": [
                    _estimate_view(
                        f"what-if-{i}-miscarriage",
                        _("Miscarriage in the next pregnancy, if {change}").format(
                            change=describe_change(w["change"])
                        ),
                        w["miscarriage_risk"],
                    ),
                    _estimate_view(
                        f"what-if-{i}-live-birth",
                        _("Live birth from the next pregnancy, if {change}").format(
                            change=describe_change(w["change"])
                        ),
                        w["live_birth_chance"],
                    ),
                ],
            }
            for i, w in enumerate(result.get("what_if", []))
        ],
    }
    if nxt.get("setting") != "clinic":
        # U5: the patient page may use RPL-clinic figures; say which figures this page shows.
        view["setting_note"] = (
            _(
                "These are population figures: they come from registries of all pregnancies. "
                "Figures from specialist recurrent-miscarriage clinics are lower for the same "
                "answers"
            )
            + f": {CLINIC_SETTING_EFFECT}."
        )
    cur = result["current_pregnancy"]
    if cur:
        day = int(cur["gestational_age_days"])
        points = cur["curve_to_20_weeks"]
        view["current"] = {
            "gestation": gestation(day),
            "heartbeat_seen": bool(cur["heartbeat_seen"]),
            "estimates": [
                _estimate_view(
                    "loss-12",
                    _("Loss before 12 weeks in this pregnancy"),
                    cur["loss_risk_to_12_weeks"],
                ),
                _estimate_view(
                    "loss-20",
                    _("Loss before 20 weeks in this pregnancy"),
                    cur["loss_risk_to_20_weeks"],
                ),
            ],
            "drivers": list(cur["drivers"]),
            "curve_chart": (
                Markup(curve_svg(points, day, chart_id="chart-curve")) if points else None
            ),
            "curve_table": [
                {"week": int(p["day"]) // 7, "risk": pct(p["risk"])}
                for p in points
                if int(p["day"]) % 7 == 0
            ],
            "in_curve": bool(points) and points[0]["day"] <= day <= points[-1]["day"],
        }
    return view


def _share_query(values: Mapping[str, Any]) -> str:
    """The canonical query string for these inputs: what the result's URL should contain."""
    pairs: list[tuple[str, str]] = [
        ("age", _g(values["age"])),
        ("losses", str(values["losses"])),
        ("live_births", str(values["live_births"])),
    ]
    if values["bmi"] is not None:
        pairs.append(("bmi", _g(values["bmi"])))
    pairs += [(flag, "1") for flag in ("smoker", "pcos") if values[flag]]
    if values["gestational_days"] is not None:
        pairs.append(("gestational_days", str(values["gestational_days"])))
        if values["heartbeat"]:
            pairs.append(("heartbeat", "1"))
    return urlencode(pairs)


@router.get("/risk", response_class=HTMLResponse, summary="Public risk page (nothing stored)")
def risk_page(request: Request) -> Response:
    query = request.query_params
    submitted = any(name in query for name in FIELDS)
    form = {name: query.get(name, "")[:100] for name in FIELDS}
    context: dict[str, Any] = {
        "_": _,
        "form": form,
        "checked": {flag: parse_flag(query.get(flag))[0] for flag in CHECKBOXES},
        "disclaimer": DISCLAIMER,
        "errors": {},
        "submitted": submitted,
        "result": None,
        "view": None,
        "share_url": None,
    }
    status = 200
    if submitted:
        values, errors = parse_query(query)
        if not errors:
            try:
                result = quick_risk(**values, setting="population")
            except InputError as exc:  # a bound the form did not know about
                errors[_input_error_field(exc) or "form"] = str(exc)
            else:
                context.update(
                    result=result,
                    view=build_view(result),
                    disclaimer=result["disclaimer"],
                    share_url=f"{request.url.path}?{_share_query(values)}",
                )
        if errors:
            context["errors"] = errors
            status = 422
    templates: Jinja2Templates = request.app.state.templates
    response = templates.TemplateResponse(request, TEMPLATE, context, status_code=status)
    # The answers are in the URL: keep them out of shared caches and of the browser cache.
    response.headers["cache-control"] = "no-store"
    return response


@router.get(
    "/leaflet",
    response_class=HTMLResponse,
    summary="General patient leaflet (HTML or PDF)",
    responses={
        200: {"content": {"text/html": {}, "application/pdf": {}}},
        400: {"description": "Unknown language or format", "content": {"text/plain": {}}},
    },
)
def general_leaflet_page(lang: str = "en", format: str = "html") -> Response:
    """The general (not personal) leaflet in English, Dutch, Swedish or Chinese."""
    from datetime import date

    from rplcare.leaflet.render import general_leaflet
    from rplcare.web.leaflets import bad_request, leaflet_response

    if message := bad_request(lang, format):
        return Response(message + "\n", status_code=400, media_type="text/plain; charset=utf-8")
    return leaflet_response(general_leaflet(lang, date.today()), format, "rplcare-leaflet")
