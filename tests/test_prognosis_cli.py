"""`rplcare risk`, `rplcare model validate` and the prognosis block of `assess`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rplcare.cli import app
from rplcare.engine.assess import assess
from rplcare.io import load_case
from tests.factories import losses, run

RUNNER = CliRunner()


def risk(*args: str) -> tuple[int, str, str]:
    result = RUNNER.invoke(app, ["risk", *args])
    return result.exit_code, result.stdout, result.stderr


def test_risk_json_shape() -> None:
    code, out, _ = risk("--age", "34", "--losses", "3", "--format", "json")
    assert code == 0
    data = json.loads(out)
    nxt = data["next_pregnancy"]
    assert nxt["setting"] == "population"
    for key in ("miscarriage_risk", "live_birth_chance"):
        e = nxt[key]
        assert set(e) == {"estimate", "interval", "confidence_interval", "out_of_range", "reason"}
        assert e["out_of_range"] is False and e["reason"] is None
        assert 0 < e["interval"][0] <= e["estimate"] <= e["interval"][1] < 1
    assert data["current_pregnancy"] is None
    assert "does not replace" in data["disclaimer"]


def test_risk_past_the_data_gives_no_number() -> None:
    """Issue 14: `risk --age 55 --losses 2` gives no bare number, only the reason."""
    code, out, _ = risk("--age", "55", "--losses", "2", "--format", "json")
    assert code == 0
    for e in json.loads(out)["next_pregnancy"].values():
        if isinstance(e, dict):
            assert e["estimate"] is None and e["interval"] is None
            assert e["out_of_range"] is True
            assert "the model's data cover ages" in e["reason"]
    code, out, _ = risk("--age", "55", "--losses", "2")
    assert code == 0 and "not estimated: the model's data cover ages" in out


def test_risk_with_current_pregnancy_and_clinic_setting() -> None:
    code, out, _ = risk(
        "--age", "36", "--losses", "2", "--live-births", "1", "--bmi", "31", "--smoker",
        "--pcos", "--gestational-days", "56", "--heartbeat", "--setting", "clinic",
        "--format", "json",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    cur = data["current_pregnancy"]
    assert cur["loss_risk_to_12_weeks"]["estimate"] <= cur["loss_risk_to_20_weeks"]["estimate"]
    assert data["next_pregnancy"]["setting"] == "clinic"
    assert len(cur["curve_to_20_weeks"]) == 105


def test_risk_text_output() -> None:
    code, out, _ = risk("--age", "30", "--losses", "1")
    assert code == 0
    assert "Miscarriage, next pregnancy" in out
    assert "does not replace" in out


@pytest.mark.parametrize(
    "args",
    [
        ["--age", "5", "--losses", "1"],
        ["--age", "30", "--losses", "-1"],
        ["--age", "30", "--losses", "1", "--bmi", "3"],
        ["--age", "30", "--losses", "1", "--gestational-days", "400"],
        ["--age", "thirty", "--losses", "1"],
        ["--age", "30", "--losses", "1", "--setting", "hospital"],
        ["--losses", "1"],
    ],
)
def test_risk_bad_input_exits_2(args: list[str]) -> None:
    result = RUNNER.invoke(app, ["risk", *args])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_model_validate_writes_report(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["model", "validate", "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    md = (tmp_path / "prognosis-validation.md").read_text()
    assert "lie inside their 95% prediction interval" in md
    assert (tmp_path / "prognosis-calibration.svg").read_text().lstrip().startswith("<?xml")


def test_assess_setting_follows_the_definitions() -> None:
    one = run(pregnancies=losses(1))
    three = run(pregnancies=losses(3))
    assert one.prognosis.next_pregnancy.setting == "population"
    assert three.prognosis.next_pregnancy.setting == "clinic"
    assert "eshre-2022" in three.prognosis.next_pregnancy.setting_reason
    assert one.prognosis.current_pregnancy is None


def test_assess_current_pregnancy_block() -> None:
    a = assess(load_case("examples/secondary-current-pregnancy.json"))
    cur = a.prognosis.current_pregnancy
    assert cur is not None
    assert cur.gestational_age_days == 52 and cur.heartbeat_seen is True
    assert cur.previous_losses == 3
    r12, r20 = cur.loss_risk_to_12_weeks.estimate, cur.loss_risk_to_20_weeks.estimate
    assert r12 is not None and r20 is not None
    assert 0 < r12 <= r20 < 1
    assert a.prognosis.limits and a.prognosis.interval_method


def test_assess_prognosis_uses_lifestyle() -> None:
    plain = run(pregnancies=losses(2))
    smoker = run(pregnancies=losses(2), lifestyle={"smoker": True, "bmi": 32})
    with_smoking = smoker.prognosis.next_pregnancy.miscarriage_risk.estimate
    without = plain.prognosis.next_pregnancy.miscarriage_risk.estimate
    assert with_smoking is not None and without is not None
    assert with_smoking > without
