"""`rplcare leaflet`: files in every format, clear errors for bad requests."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rplcare.cli import app
from tests.conftest import REPO

runner = CliRunner()
CASE = str(REPO / "examples" / "aps-three-losses.json")


def test_general_leaflet_in_swedish_to_stdout() -> None:
    result = runner.invoke(app, ["leaflet", "--general", "--lang", "sv", "--date", "2026-11-26"])
    assert result.exit_code == 0, result.output
    assert '<html lang="sv">' in result.stdout
    assert "26 november 2026" in result.stdout


def test_personal_pdf_in_dutch(tmp_path: Path) -> None:
    out = tmp_path / "leaflet.pdf"
    result = runner.invoke(
        app, ["leaflet", CASE, "--lang", "nl", "--format", "pdf", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF-")


def test_short_leaflet_by_default_booklet_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPLCARE_PUBLIC_URL", "https://rpl.example.org")
    short = runner.invoke(app, ["leaflet", CASE, "--lang", "en"])
    assert short.exit_code == 0, short.output
    assert 'href="https://rpl.example.org/leaflet?lang=en"' in short.stdout.replace("&amp;", "&")
    assert "the full booklet" not in short.stdout
    booklet = runner.invoke(app, ["leaflet", CASE, "--booklet", "--public-url", "http://x"])
    assert booklet.exit_code == 0, booklet.output
    assert "the full booklet" in booklet.stdout
    assert "Tests and what the guidelines advise" in booklet.stdout
    assert "Tests and what the guidelines advise" not in short.stdout
    assert "http://x/leaflet" not in booklet.stdout
    chosen = runner.invoke(app, ["leaflet", CASE, "--public-url", "https://clinic.example/"])
    assert 'href="https://clinic.example/leaflet?lang=en"' in chosen.stdout.replace("&amp;", "&")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["leaflet", CASE, "--lang", "fr"], "unknown language 'fr'"),
        (["leaflet", CASE, "--general"], "either a case file or --general"),
        (["leaflet", "--general", "--booklet"], "--booklet needs a case file"),
        (["leaflet"], "either a case file or --general"),
        (["leaflet", CASE, "--format", "pdf"], "PDF output needs --output"),
        (["leaflet", "--general", "--date", "26/11/2026"], "is not a date"),
        (["leaflet", "missing.json"], "missing.json"),
    ],
)
def test_bad_requests_are_one_line_errors(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["leaflet", CASE, "-o", str(tmp_path / "no" / "such" / "x.html")])
    assert result.exit_code == 2
    assert "cannot write" in result.stderr
