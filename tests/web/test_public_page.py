"""The public risk page (GET /risk) and its server-side SVG charts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rplcare.web
from rplcare.prognosis.quick import quick_risk
from rplcare.web.charts import curve_svg, pct, risk_bar_svg
from rplcare.web.i18n import UiLanguage, template_context
from rplcare.web.routes import public
from rplcare.web.routes.public import describe_change

WEB_ROOT = Path(rplcare.web.__file__).resolve().parent
SVG = "{http://www.w3.org/2000/svg}"
VALID = {"age": "34", "losses": "3", "live_births": "1", "bmi": "31", "smoker": "1"}
PREGNANT = {**VALID, "gestational_days": "52", "heartbeat": "1"}
# quick_risk's current-pregnancy model warns (log1p(-1)) where the weekly hazard reaches 1:
# older age, many losses, no heartbeat. A warning, not an error, outside the test suite.


def make_app() -> FastAPI:
    """The smallest app that serves the page as the real app factory does."""
    app = FastAPI()
    app.state.templates = Jinja2Templates(
        directory=str(WEB_ROOT / "templates"), context_processors=[template_context]
    )
    app.add_middleware(UiLanguage)
    app.mount("/static", StaticFiles(directory=str(WEB_ROOT / "static")), name="static")
    app.include_router(public.router)
    return app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(make_app()) as c:
        yield c


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", html, flags=re.S)]


def text_of(el: ET.Element, tag: str) -> str:
    found = el.find(SVG + tag)
    assert found is not None, f"no <{tag}>"
    return found.text or ""


def expected(**query: Any) -> dict[str, Any]:
    return quick_risk(
        age=float(query["age"]),
        losses=int(query["losses"]),
        live_births=int(query.get("live_births", 0)),
        bmi=float(query["bmi"]) if "bmi" in query else None,
        smoker="smoker" in query,
        pcos="pcos" in query,
        gestational_days=int(query["gestational_days"]) if "gestational_days" in query else None,
        heartbeat="heartbeat" in query,
        setting="population",
    )


# --- the page --------------------------------------------------------------------------------


def test_form_renders_in_the_accessible_layout(client: TestClient) -> None:
    r = client.get("/risk")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="en-GB">' in html
    assert 'href="#main"' in html and '<main id="main"' in html
    assert '<link rel="stylesheet" href="/static/site.css">' in html
    assert "rplcare supports, and does not replace, a clinician." in html
    assert '<form class="form" method="get" action="/risk"' in html
    for name in public.FIELDS:
        assert f'id="{name}" name="{name}"' in html
        assert f'for="{name}"' in html
    assert "Nothing is stored." in html
    assert "Your estimate" not in html and 'role="alert"' not in html
    # Content-Security-Policy default-src 'self': no inline scripts or styles.
    assert "<script" not in html and "style=" not in html and "<style" not in html


def test_stylesheet_is_served(client: TestClient) -> None:
    r = client.get("/static/site.css")
    assert r.status_code == 200
    assert ":focus-visible" in r.text


def test_valid_query_shows_the_estimates_from_quick_risk(client: TestClient) -> None:
    r = client.get("/risk", params=VALID)
    assert r.status_code == 200, r.text
    html = r.text
    result = expected(**VALID)
    nxt = result["next_pregnancy"]
    for key in ("miscarriage_risk", "live_birth_chance"):
        e = nxt[key]
        assert pct(e["estimate"]) in html
        assert f"{pct(e['interval'][0])} to {pct(e['interval'][1])}" in html
    assert "in 95 of 100 populations like yours the figure would lie in this range" in html
    assert result["disclaimer"] in html
    for line in result["limits"]:
        assert line.replace("'", "&#39;") in html
    for line in nxt["drivers"]:
        assert line in html
    assert "nothing is stored" in html.lower()
    assert 'id="current-pregnancy"' not in html
    charts = svgs(html)
    assert len(charts) == 5  # two next-pregnancy bars, then live birth within 1, 2 and 5 years
    for y, chart in zip(result["cumulative_live_birth"]["years"], charts[2:], strict=True):
        assert pct(y["estimate"]) in text_of(chart, "desc")
    for chart, key in zip(charts, ("miscarriage_risk", "live_birth_chance"), strict=False):
        e = nxt[key]
        assert chart.get("role") == "img"
        assert text_of(chart, "title")
        desc = text_of(chart, "desc")
        for number in (e["estimate"], *e["interval"]):
            assert pct(number) in desc
    # Shareable, and kept out of caches; no cookie is set.
    assert r.headers["cache-control"] == "no-store"
    assert "set-cookie" not in r.headers
    assert 'href="/risk?age=34&amp;losses=3&amp;live_births=1&amp;bmi=31&amp;smoker=1"' in html


def test_shared_link_reproduces_the_result(client: TestClient) -> None:
    first = client.get("/risk", params={**VALID, "bmi": "31,0", "age": " 34 "})
    assert first.status_code == 200
    link = re.search(r'<p class="share">.*?<a href="([^"]+)"', first.text, flags=re.S)
    assert link is not None
    again = client.get(link.group(1).replace("&amp;", "&"))
    assert again.status_code == 200
    assert svgs(again.text)[0].findtext(SVG + "desc") == svgs(first.text)[0].findtext(SVG + "desc")


def test_current_pregnancy_section_and_curve(client: TestClient) -> None:
    r = client.get("/risk", params=PREGNANT)
    assert r.status_code == 200, r.text
    html = r.text
    cur = expected(**PREGNANT)["current_pregnancy"]
    assert 'id="current-pregnancy"' in html
    assert "7 weeks 3 days" in html
    for key in ("loss_risk_to_12_weeks", "loss_risk_to_20_weeks"):
        assert pct(cur[key]["estimate"]) in html
    charts = svgs(html)
    # two next-pregnancy bars, three live-birth-over-time bars, two current-pregnancy bars,
    # the curve
    assert len(charts) == 8
    curve = charts[-1]
    assert curve.find(f".//{SVG}polyline") is not None
    desc = text_of(curve, "desc")
    today = next(p for p in cur["curve_to_20_weeks"] if p["day"] == 52)
    assert f"Today, at 7 weeks 3 days: {pct(today['risk'])}" in desc
    assert "Show the curve as a table" in html


def test_pregnancy_beyond_the_data_says_so(client: TestClient) -> None:
    """Past the gestations the current-pregnancy data cover there is no number, only why."""
    r = client.get("/risk", params={**VALID, "gestational_days": "200", "heartbeat": "1"})
    assert r.status_code == 200
    assert "not estimated: the model&#39;s data cover gestations" in r.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("age", "abc"),
        ("age", "5"),
        ("age", "nan"),
        ("age", "1e2"),
        ("losses", "-1"),
        ("losses", "2.5"),
        ("bmi", "3"),
        ("live_births", "31"),
        ("gestational_days", "400"),
        ("smoker", "maybe"),
    ],
)
def test_invalid_input_is_an_inline_error(client: TestClient, field: str, value: str) -> None:
    r = client.get("/risk", params={**PREGNANT, field: value})
    assert r.status_code == 422
    html = r.text
    assert f'<p class="field-error" id="{field}-error" role="alert">' in html
    tag = re.search(rf'<input[^>]*\bid="{field}"[^>]*>', html)
    assert tag is not None
    assert 'aria-invalid="true"' in tag.group(0)
    assert re.search(rf'aria-describedby="[^"]*\b{field}-error\b', tag.group(0))
    assert f'href="#{field}"' in html  # the error summary links to the field
    assert "Traceback" not in html and "Internal Server Error" not in html
    assert "Your estimate" not in html
    if field != "smoker":
        assert f'value="{value}"' in tag.group(0)  # the answer is kept for correction


def test_missing_required_fields(client: TestClient) -> None:
    r = client.get("/risk", params={"age": "", "losses": ""})
    assert r.status_code == 422
    assert "Enter your age in years." in r.text
    assert 'id="losses-error"' in r.text


def test_heartbeat_needs_the_gestational_age(client: TestClient) -> None:
    r = client.get("/risk", params={**VALID, "heartbeat": "1"})
    assert r.status_code == 422
    assert 'id="gestational_days-error"' in r.text


def test_input_is_escaped(client: TestClient) -> None:
    r = client.get("/risk", params={**VALID, "age": '"><script>alert(1)</script>'})
    assert r.status_code == 422
    assert "<script>" not in r.text
    assert "&lt;script&gt;" in r.text


def test_unknown_parameters_alone_show_the_form(client: TestClient) -> None:
    r = client.get("/risk", params={"utm_source": "x"})
    assert r.status_code == 200
    assert 'role="alert"' not in r.text


def test_inputs_past_the_data_render_without_numbers(client: TestClient) -> None:
    r = client.get("/risk", params={"age": "70", "losses": "30", "gestational_days": "40"})
    assert r.status_code == 200
    assert "not estimated: the model&#39;s data cover ages" in r.text
    assert "100.0%" not in r.text
    for chart in svgs(r.text):
        assert text_of(chart, "desc")


def test_quick_risk_corner_without_numpy_warning() -> None:
    quick_risk(age=70, losses=30, gestational_days=40, heartbeat=False)


_number_text = st.one_of(
    st.integers(-50, 400).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(-1000, 1000, allow_nan=False, places=2).map(str),
)
_value = st.one_of(_number_text, st.text(max_size=30), st.sampled_from(["", "1", "on", "no"]))
_query = st.dictionaries(
    st.one_of(st.sampled_from(public.FIELDS), st.text(max_size=8)), _value, max_size=10
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=_query)
def test_random_queries_never_fail_the_server(client: TestClient, query: dict[str, str]) -> None:
    r = client.get("/risk", params=query)
    assert r.status_code in (200, 422), r.text
    assert "Traceback" not in r.text
    assert "Nothing is stored." in r.text
    for chart in svgs(r.text):
        assert chart.get("role") == "img"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    age=st.integers(10, 70),
    losses=st.integers(0, 30),
    births=st.integers(0, 30),
    bmi=st.none() | st.integers(10, 100),
    days=st.none() | st.integers(0, 315),
    flags=st.sets(st.sampled_from(("smoker", "pcos", "heartbeat"))),
)
def test_in_range_queries_show_quick_risk_numbers(
    client: TestClient,
    age: int,
    losses: int,
    births: int,
    bmi: int | None,
    days: int | None,
    flags: set[str],
) -> None:
    query = {"age": str(age), "losses": str(losses), "live_births": str(births)}
    query |= dict.fromkeys(flags, "1")
    if bmi is not None:
        query["bmi"] = str(bmi)
    if days is not None:
        query["gestational_days"] = str(days)
    r = client.get("/risk", params=query)
    if "heartbeat" in flags and days is None:
        assert r.status_code == 422
        return
    assert r.status_code == 200, r.text
    result = expected(**query)
    nxt = result["next_pregnancy"]["miscarriage_risk"]
    cur = result["current_pregnancy"]
    if nxt["estimate"] is None:
        assert "not estimated" in r.text
    else:
        assert pct(nxt["estimate"]) in r.text
    # One bar chart per estimate given, plus the curve when the pregnancy is in range.
    charts = 5 if nxt["estimate"] is not None else 0  # next pregnancy, live birth over time
    if cur is not None and cur["loss_risk_to_12_weeks"]["estimate"] is not None:
        charts += 3
    assert len(svgs(r.text)) == charts


# --- the charts ------------------------------------------------------------------------------


def test_risk_bar_svg_is_valid_accessible_xml() -> None:
    svg = risk_bar_svg(0.4007, (0.2961, 0.5153), 'Miscarriage <next> & "more"', reference=0.2)
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    assert root.get("role") == "img"
    title, desc = text_of(root, "title"), text_of(root, "desc")
    assert title == 'Miscarriage <next> & "more"'
    for number in ("40.1%", "29.6%", "51.5%", "20.0%"):
        assert number in desc
    ids = {root.find(SVG + t).get("id") for t in ("title", "desc")}  # type: ignore[union-attr]
    assert root.get("aria-labelledby") in ids and root.get("aria-describedby") in ids
    assert "style" not in svg  # CSP: presentation attributes only
    # The whisker spans the interval on a 0-100% scale (coordinates from the track).
    track = root.find(f"{SVG}rect[@class='chart-track']")
    bar = root.find(f"{SVG}rect[@class='chart-bar']")
    assert track is not None and bar is not None
    width = float(track.get("width", "0"))
    assert float(bar.get("width", "0")) == pytest.approx(0.4007 * width, abs=0.01)


@pytest.mark.parametrize(("estimate", "interval"), [(0.0, (0.0, 0.0)), (1.0, (0.97, 1.0))])
def test_risk_bar_svg_edges(estimate: float, interval: tuple[float, float]) -> None:
    root = ET.fromstring(risk_bar_svg(estimate, interval, "edge", compact=True))
    assert pct(estimate) in text_of(root, "desc")
    assert root.find(f"{SVG}text") is not None  # axis labels remain in compact mode


@pytest.mark.parametrize(
    ("estimate", "interval"),
    [(1.2, (0.1, 0.2)), (float("nan"), (0.1, 0.2)), (0.5, (0.6, 0.4)), (0.5, (0.1,))],
)
def test_risk_bar_svg_rejects_impossible_numbers(
    estimate: float, interval: tuple[float, ...]
) -> None:
    with pytest.raises(ValueError):
        risk_bar_svg(estimate, interval, "bad")


def test_distinct_charts_get_distinct_ids() -> None:
    a = ET.fromstring(risk_bar_svg(0.1, (0.05, 0.2), "a"))
    b = ET.fromstring(risk_bar_svg(0.1, (0.05, 0.2), "b"))
    assert a.get("aria-labelledby") != b.get("aria-labelledby")


def test_curve_svg_is_valid_accessible_xml() -> None:
    points = expected(**PREGNANT)["current_pregnancy"]["curve_to_20_weeks"]
    root = ET.fromstring(curve_svg(points, 52))
    assert root.get("role") == "img"
    assert "20 weeks" in text_of(root, "title")
    desc = text_of(root, "desc")
    first, last = points[0], points[-1]
    assert pct(first["risk"]) in desc and pct(last["risk"]) in desc
    today = next(p for p in points if p["day"] == 52)
    assert f"Today, at 7 weeks 3 days: {pct(today['risk'])}" in desc
    assert "week 8: " + pct(next(p for p in points if p["day"] == 56)["risk"]) in desc
    polyline = root.find(f"{SVG}polyline")
    assert polyline is not None
    assert len(polyline.get("points", "").split()) == len(points)
    assert root.find(f"{SVG}circle") is not None  # today's marker


def test_curve_svg_edge_cases() -> None:
    one = ET.fromstring(curve_svg([{"day": 40, "risk": 0.3}], None))
    assert "30.0%" in text_of(one, "desc")
    outside = ET.fromstring(curve_svg([{"day": 35, "risk": 0.5}, {"day": 36, "risk": 0.4}], 10))
    assert "outside the range of the chart" in text_of(outside, "desc")
    with pytest.raises(ValueError):
        curve_svg([], 40)
    with pytest.raises(ValueError):
        curve_svg([{"day": 40, "risk": 1.5}], 40)


@pytest.mark.parametrize("lang", ["en", "nl", "sv", "zh"])
def test_general_leaflet_is_public_and_linked(client: TestClient, lang: str) -> None:
    assert f'href="/leaflet?lang={lang}"' in client.get("/risk").text
    page = client.get("/leaflet", params={"lang": lang})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<svg" in page.text


def test_general_leaflet_pdf_and_bad_requests(client: TestClient) -> None:
    pdf = client.get("/leaflet", params={"lang": "nl", "format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert client.get("/leaflet", params={"lang": "de"}).status_code == 400
    assert client.get("/leaflet", params={"format": "docx"}).status_code == 400


def test_what_if_form_shows_cited_scenarios(client: TestClient) -> None:
    """Issue 14: the what-if explorer on /risk, no scripts: stopping smoking and a lower BMI
    lower the risk of a smoker with BMI 33, each with its citation."""
    query = {"age": "34", "losses": "2", "bmi": "33", "smoker": "1", "if_stop_smoking": "1",
             "if_bmi": "24", "if_years_older": "2"}  # fmt: skip
    r = client.get("/risk", params=query)
    assert r.status_code == 200, r.text
    html = unescape(r.text)
    result = quick_risk(age=34, losses=2, bmi=33, smoker=True,
                        what_if=["smoker=false", "bmi=24", "age=+2"])  # fmt: skip
    base = result["next_pregnancy"]["miscarriage_risk"]["estimate"]
    changes = {w["change"]: w for w in result["what_if"]}
    assert changes["smoker=false"]["miscarriage_risk"]["estimate"] < base
    assert changes["bmi=24"]["miscarriage_risk"]["estimate"] < base
    for w in result["what_if"]:
        assert f"If {describe_change(w['change'])}" in html
        assert w["citation"] in html
        assert pct(w["miscarriage_risk"]["estimate"]) in html
    bad = client.get("/risk", params={**query, "smoker": "", "bmi": ""})
    assert bad.status_code == 422
    assert "Enter your current BMI above" in bad.text


def test_what_if_changes_are_told_in_words(client: TestClient) -> None:
    """Patients read "If you stopped smoking", not the change code "smoker=false"."""
    page = client.get(
        "/risk",
        params={"age": "34", "losses": "3", "smoker": "1", "bmi": "33", "if_stop_smoking": "1",
                "if_bmi": "24", "if_years_older": "2"},
    ).text  # fmt: skip
    assert "If you stopped smoking" in page
    assert "If your BMI were 24" in page
    assert "If you tried again 2 year(s) later" in page
    assert "smoker=false" not in page
