"""What-if explorer (whatif.py) and `rplcare risk --what-if`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rplcare.cli import app
from rplcare.prognosis.data import Setting
from rplcare.prognosis.model import Estimate
from rplcare.prognosis.predict import estimates
from rplcare.prognosis.whatif import Covariates, WhatIfError, parse_change, what_if

RUNNER = CliRunner()
SMOKER_33 = Covariates(bmi=33, smoker=True)


def num(e: Estimate) -> float:
    assert e.estimate is not None, e.reason
    return e.estimate


def width(e: Estimate) -> float:
    assert e.interval is not None
    return e.interval[1] - e.interval[0]


@pytest.mark.parametrize("setting", ["population", "clinic"])
@pytest.mark.parametrize("change", ["smoker=false", "bmi=24"])
def test_smoker_with_bmi_33_lowers_risk(change: str, setting: Setting) -> None:
    base, live = estimates(34, "LLL", setting, bmi=33, smoker=True)
    (w,) = what_if(34, "LLL", setting, SMOKER_33, [change])
    assert num(w.miscarriage_risk) < num(base)
    assert num(w.live_birth_chance) > num(live)
    # The effect's own uncertainty widens the interval (on the logit scale).
    assert w.citation and "[P]" in w.citation
    assert w.miscarriage_risk.confidence_interval is not None
    assert base.confidence_interval is not None


def test_effect_variance_is_added() -> None:
    base, _ = estimates(34, "LLL", "population", bmi=33, smoker=True)
    (w,) = what_if(34, "LLL", "population", SMOKER_33, ["smoker=false"])
    import math

    def logit_width(e: Estimate) -> float:
        assert e.confidence_interval is not None
        lo, hi = e.confidence_interval
        return math.log(hi / (1 - hi)) - math.log(lo / (1 - lo))

    assert logit_width(w.miscarriage_risk) > logit_width(base)


def test_age_uses_the_model_curve() -> None:
    (w,) = what_if(34, "LL", "population", Covariates(), ["age=+2"])
    assert num(w.miscarriage_risk) == pytest.approx(num(estimates(36, "LL", "population")[0]))
    (w,) = what_if(34, "LL", "population", Covariates(), ["age=38"])
    assert num(w.miscarriage_risk) == pytest.approx(num(estimates(38, "LL", "population")[0]))
    (w,) = what_if(45, "LL", "population", Covariates(), ["age=+10"])
    assert w.miscarriage_risk.out_of_range and w.miscarriage_risk.reason


def test_starting_to_smoke_and_more_alcohol_raise_risk() -> None:
    base = num(estimates(30, "L", "population")[0])
    ws = what_if(30, "L", "population", Covariates(alcohol=1), ["smoker=true", "alcohol=+2"])
    assert [num(w.miscarriage_risk) > base for w in ws] == [True, True, True]
    assert ws[-1].change.startswith("together")


def test_no_change_and_out_of_range_dose() -> None:
    (same,) = what_if(30, "L", "population", Covariates(bmi=22), ["bmi=23"])
    assert num(same.miscarriage_risk) == pytest.approx(
        num(estimates(30, "L", "population", bmi=22)[0])
    )
    (far,) = what_if(30, "L", "population", Covariates(alcohol=10), ["alcohol=0"])
    assert far.miscarriage_risk.out_of_range and "5" in (far.miscarriage_risk.reason or "")


@pytest.mark.parametrize(
    "text", ["foo=1", "smoker=maybe", "bmi=abc", "age", "=3", "age=+80", "bmi=nan", "caffeine=-5"]
)
def test_bad_changes(text: str) -> None:
    with pytest.raises(WhatIfError):
        what_if(34, "LLL", "population", Covariates(bmi=30), [text])


def test_bmi_needs_current_bmi() -> None:
    with pytest.raises(WhatIfError, match="--bmi"):
        what_if(34, "LLL", "population", Covariates(), ["bmi=24"])


def test_parse_change() -> None:
    c = parse_change(" Age = +2 ")
    assert (c.key, c.value, c.relative) == ("age", 2.0, True)
    assert parse_change("smoker=No").value == 0.0


# ---------------------------------------------------------------- CLI


def risk(*args: str) -> tuple[int, str, str]:
    result = RUNNER.invoke(app, ["risk", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_json_has_cumulative_and_what_if() -> None:
    code, out, _ = risk(
        "--age", "34", "--losses", "3", "--bmi", "33", "--smoker", "--what-if", "smoker=false",
        "--what-if", "bmi=24", "--what-if", "age=+2", "--format", "json",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    years = data["cumulative_live_birth"]["years"]
    assert [y["years"] for y in years] == [1, 2, 5]
    assert data["cumulative_live_birth"]["setting"] == "population"
    base = data["next_pregnancy"]["miscarriage_risk"]["estimate"]
    entries = {w["change"]: w for w in data["what_if"]}
    assert entries["smoker=false"]["miscarriage_risk"]["estimate"] < base
    assert entries["bmi=24"]["miscarriage_risk"]["estimate"] < base
    assert entries["age=+2"]["miscarriage_risk"]["estimate"] > base
    for w in data["what_if"]:
        assert set(w) >= {"change", "miscarriage_risk", "live_birth_chance", "citation"}


def test_cli_plain_request_includes_cumulative() -> None:
    code, out, _ = risk("--age", "34", "--losses", "3", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert [y["years"] for y in data["cumulative_live_birth"]["years"]] == [1, 2, 5]
    assert data["what_if"] == []


def test_cli_text_shows_what_if() -> None:
    code, out, _ = risk("--age", "30", "--losses", "2", "--what-if", "age=+3")
    assert code == 0
    assert "If age=+3" in out and "within 5 y" in out


@pytest.mark.parametrize(
    "args",
    [
        ["--what-if", "foo=1"],
        ["--what-if", "smoker=perhaps"],
        ["--what-if", "bmi=24"],
        ["--what-if", "age=+90"],
        ["--what-if", "alcohol"],
        ["--alcohol", "-1"],
    ],
)
def test_cli_bad_what_if_exits_2(args: list[str]) -> None:
    result = RUNNER.invoke(app, ["risk", "--age", "30", "--losses", "1", *args])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "error:" in result.stderr
