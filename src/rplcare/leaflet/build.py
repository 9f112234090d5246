"""Build a leaflet (pure): an assessment and the written content, in one language.

Nothing here reads files or the clock: the content, knowledge base, model figures and date
come in as arguments. The engine's English reasons are not reused; every sentence is a
catalog message so that it can be translated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from rplcare.engine.assessment import Assessment, CareOut, WorkupOut
from rplcare.knowledge.loader import KnowledgeBase
from rplcare.leaflet.content import Cited, Content, Explained
from rplcare.leaflet.content import Section as ContentSection
from rplcare.leaflet.i18n import N_, Localizer
from rplcare.leaflet.model import (
    Bar,
    BarChart,
    Block,
    Cell,
    CurveChart,
    Leaflet,
    Line,
    Para,
    Section,
    Source,
    Table,
)
from rplcare.prognosis.current import WEEK_12

# The definitions the leaflet explains side by side (international, then national), in the
# order it shows them.

RECOMMENDATION = {
    "recommended": N_("advised"),
    "consider": N_("can be considered"),
    "not_recommended": N_("not advised"),
}
STATUS = {
    "to_do": N_("Not done yet"),
    "optional": N_("Optional: talk it over with your doctor"),
    "done": N_("Done"),
    "repeat": N_("Repeat needed"),
    "not_indicated": N_("Not needed for you now"),
}
STATUS_ORDER = ("repeat", "to_do", "optional", "done", "not_indicated")
CAUSE_STATUS = {
    "confirmed": N_("Found"),
    "possible": N_("Possible: needs more tests or your doctor's review"),
    "excluded": N_("Not found"),
    "present": N_("Present: something you can change"),
}
RESULT = {
    "positive": N_("positive"),
    "negative": N_("negative"),
    "normal": N_("normal"),
    "low": N_("low"),
    "high": N_("high"),
    "balanced_translocation": N_("balanced translocation"),
    "robertsonian_translocation": N_("Robertsonian translocation"),
    "inversion": N_("inversion"),
    "other_abnormal": N_("other change"),
    "aneuploid": N_("wrong number of chromosomes"),
    "unbalanced_structural": N_("unbalanced chromosome change"),
    "failed": N_("test did not work"),
    "septate": N_("septum (a wall inside the womb)"),
    "arcuate": N_("arcuate (a small dip at the top of the womb)"),
    "bicorporeal": N_("two-part womb"),
    "unicornuate": N_("one-sided womb"),
    "submucous_fibroid": N_("fibroid inside the womb"),
    "endometrial_polyp": N_("polyp"),
    "intrauterine_adhesions": N_("adhesions (scar tissue)"),
    "heterozygous": N_("one copy of the gene change"),
    "homozygous": N_("two copies of the gene change"),
}


@dataclass(frozen=True)
class ModelFigures:
    """Figures the leaflet needs from the prognosis model, computed by the caller."""

    model_version: str
    # Next-pregnancy miscarriage risk at the patient's age with no earlier loss (population).
    population_same_age: tuple[float, float, float] | None
    # Example woman for the general chart: (estimate, low, high) by earlier losses 0, 1, ...
    # at content.charts.risk_by_losses.example_age.
    by_losses: tuple[tuple[float, float, float], ...]
    # Cited effects of what she can change that apply to her (rplcare.prognosis.whatif data):
    # (factor, percent more miscarriage, reference key), e.g. ("smoking", 23, "pineles-2014").
    changeable: tuple[tuple[str, int, str], ...] = ()


class _Sources:
    """Numbers references in order of first use."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self._kb = kb
        self._numbers: dict[str, int] = {}

    def cite(self, refs: Iterable[str]) -> tuple[int, ...]:
        out = []
        for ref in refs:
            if ref not in self._numbers:
                self._numbers[ref] = len(self._numbers) + 1
            out.append(self._numbers[ref])
        return tuple(sorted(set(out)))

    def listing(self) -> tuple[Source, ...]:
        refs = self._kb.references
        return tuple(
            Source(n, refs[r].short, refs[r].full, refs[r].url) for r, n in self._numbers.items()
        )


class _Writer:
    def __init__(self, loc: Localizer, kb: KnowledgeBase, content: Content) -> None:
        self.loc = loc
        self.kb = kb
        self.content = content
        self.sources = _Sources(kb)
        self._ = loc.gettext
        # The clinic profile's national miscarriage limit (weeks, reference), if it sets one.
        self.miscarriage_limit: tuple[int, str] | None = None

    def national(self, item: Cited) -> list[str]:
        """References of the national figures that replace an item's defaults."""
        uses = any(p.national == "miscarriage_limit" for p in item.params.values())
        return [self.miscarriage_limit[1]] if uses and self.miscarriage_limit else []

    def params(self, item: Cited) -> dict[str, str]:
        loc = self.loc
        out: dict[str, str] = {}
        for name, p in item.params.items():
            if p.national == "miscarriage_limit" and self.miscarriage_limit is not None:
                out[name] = loc.number(self.miscarriage_limit[0])
            elif p.integer is not None:
                out[name] = loc.number(p.integer)
            elif p.number is not None:
                out[name] = loc.number(p.number, 1)
            elif p.percent is not None:
                out[name] = loc.percent(p.percent)
        return out

    def para(self, item: Cited) -> Para:
        text = self._(item.text)
        if item.params:
            text = text % self.params(item)
        refs = self.sources.cite([*item.refs, *self.national(item)])
        return Para(text, refs, item.verification == "unverified")

    def explained(self, item: Explained) -> Cell:
        text = self._(item.text)
        if item.params:
            text = text % self.params(item)
        return Cell(text, self.sources.cite(item.refs), item.verification == "unverified")

    def label(self, table: dict[str, Explained], code: str) -> str:
        item = table.get(code)
        return self._(item.label) if item else code

    def guideline(self, gid: str) -> str:
        """Publisher and the year in the guideline's id ("ESHRE 2022", as rplcare names it,
        although the update appeared in 2023); otherwise the publication year."""
        g = self.kb.guidelines.get(gid)
        if g is None:
            return gid
        year = re.search(r"-(\d{4})(?:-|$)", gid)
        shown = year.group(1) if year else g.year
        return f"{g.publisher} {shown}" if shown else g.publisher

    def item_code(self, item_id: str) -> tuple[str, str] | None:
        """('test' or 'intervention', code) of a knowledge item."""
        for inv in self.kb.investigations:
            if inv.id == item_id:
                return "test", inv.test
        for tx in self.kb.treatments:
            if tx.id == item_id:
                return "intervention", tx.intervention
        return None


def build_leaflet(
    *,
    loc: Localizer,
    kb: KnowledgeBase,
    content: Content,
    figures: ModelFigures,
    today: date,
    assessment: Assessment | None = None,
    results: Iterable[tuple[str, date, str | None, float | None, str | None]] = (),
    booklet: bool = False,
    online_url: str | None = None,
) -> Leaflet:
    """`results` are the case's test results: (code, date, result code, value, unit).

    With an assessment: the short personal leaflet (what happened, the chances with one chart,
    the tests still to do, the care plan, what she can change, support, and a link to
    `online_url`), or with `booklet` the full booklet (every personal section with each
    guideline's position, then the general information). Without: the general leaflet."""
    w = _Writer(loc, kb, content)
    _ = w._
    if assessment is not None and assessment.profile is not None:
        p = assessment.profile
        if p.miscarriage_limit_weeks is not None and p.miscarriage_limit_ref is not None:
            w.miscarriage_limit = (p.miscarriage_limit_weeks, p.miscarriage_limit_ref)
    sections: list[Section] = []
    short = assessment is not None and not booklet
    if assessment is not None and short:
        sections += _short_sections(w, assessment, figures, online_url)
    else:
        if assessment is not None:
            sections += _personal_sections(w, assessment, figures, list(results))
        sections += [_general_section(w, s, figures) for s in content.general]
    personal = assessment is not None
    labels = _labels(w, personal)
    if short:
        # Shown with the QR code at the end of "Feelings and support".
        labels["booklet_note"] = _(
            "Your clinic can give you the booklet with all the details: every test, what "
            "each guideline advises, and general information about recurrent pregnancy loss."
        )
        labels["online_note"] = _(
            "You can also read the general information online, without signing in. "
            "Scan the code or type in the address:"
        )
    profile = assessment.profile if assessment is not None else None
    if profile is not None:
        labels["clinic"] = (
            _("Your clinic: %(clinic)s. Contact: %(contact)s")
            % {"clinic": profile.clinic_name, "contact": profile.clinic_contact}
            if profile.clinic_contact
            else _("Your clinic: %(clinic)s") % {"clinic": profile.clinic_name}
        )
    return Leaflet(
        lang=loc.lang,
        html_lang=loc.html_lang,
        title=(
            _("Your recurrent pregnancy loss: information for you")
            if short
            else _("Your recurrent pregnancy loss: the full booklet")
        )
        if personal
        else _("Recurrent pregnancy loss: information for patients"),
        subtitle=_("Made for you from your clinic's records on %(date)s")
        % {"date": loc.date(today)}
        if personal
        else _("General information, printed on %(date)s") % {"date": loc.date(today)},
        personal=personal,
        date_text=loc.date(today),
        knowledge_version=kb.version,
        content_version=content.content_version,
        model_version=figures.model_version,
        sections=tuple(sections),
        sources=w.sources.listing(),
        labels=labels,
        kind="leaflet" if short else "booklet" if personal else "general",
        online_url=online_url if short else None,
    )


def _labels(w: _Writer, personal: bool) -> dict[str, str]:
    _ = w._
    loc = w.loc
    labels = {
        "contents": _("Contents"),
        "sources": _("Sources"),
        "sources_intro": _("The numbers in square brackets in the text refer to these sources."),
        "sources_short_intro": _(
            "The numbers in square brackets in the text refer to these sources. The booklet "
            "lists them in full."
        ),
        "about": _("About this leaflet"),
        "disclaimer": _(
            "This leaflet supports, and does not replace, the advice of your doctor or midwife. "
            "It summarises published guidelines and studies. Decisions about tests and "
            "treatment are made by you and your doctor together."
        ),
        "unverified_mark": _("not yet checked in the original source"),
        # The same in brackets after a text (the brackets are the language's own).
        "unverified_note": _("(not yet checked in the original source)"),
        "unverified_legend": _(
            "Text marked “not yet checked in the original source” comes from a source that "
            "rplcare's team could not yet read in full. Ask your doctor about it."
        ),
        "versions": _(
            "Knowledge base %(kb)s, leaflet text %(content)s, prognosis model %(model)s."
        ),
        "page_of": _("Page %(page)s of %(pages)s"),
        "figure_text": _("Text description of the chart:"),
        "personal_part": _("Part 1: your situation"),
        "general_part": _("Part 2: general information") if personal else "",
    }
    if loc.lang != "en":
        labels["review"] = _(
            "This translation has not yet been checked by a clinician. If anything is unclear, "
            "ask your doctor or use the English version."
        )
    return labels


# --- general sections -------------------------------------------------------------------


def _general_section(w: _Writer, section: ContentSection, figures: ModelFigures) -> Section:
    blocks: list[Block] = []
    for p in section.paragraphs:
        blocks.append(w.para(p))
        if p.chart == "population_by_age":
            blocks.append(_age_chart(w))
        elif p.chart == "risk_by_losses":
            blocks.append(_losses_chart(w, figures))
        if p.table == "tests":
            blocks.append(_tests_overview(w))
    return Section(section.id, w._(section.title), tuple(blocks))


def _band_label(w: _Writer, low: int | None, high: int | None) -> str:
    n = w.loc.number
    if low is None and high is not None:
        return w._("under %(age)s") % {"age": n(high + 1)}
    if high is None and low is not None:
        return w._("%(age)s or older") % {"age": n(low)}
    return w.loc.pgettext("age band", "%(low)s to %(high)s") % {
        "low": n(low or 0),
        "high": n(high or 0),
    }


def _age_chart(w: _Writer) -> BarChart:
    _ = w._
    loc = w.loc
    spec = w.content.charts.population_by_age
    w.sources.cite(spec.refs)
    bars = tuple(Bar(_band_label(w, b.from_age, b.to_age), b.risk) for b in spec.bands)
    described = loc.join(
        [
            _("%(label)s: %(value)s") % {"label": b.label, "value": loc.percent(b.estimate)}
            for b in bars
        ]
    )
    return BarChart(
        title=_("Chance of miscarriage by the woman's age (Norway, 2009 to 2013)"),
        axis_label=_("Chance of miscarriage"),
        bars=bars,
        alt=_("Bar chart of the chance of miscarriage by age group: %(values)s.")
        % {"values": described},
    )


def _losses_chart(w: _Writer, figures: ModelFigures) -> BarChart:
    _ = w._
    loc = w.loc
    bars = []
    for k, (est, low, high) in enumerate(figures.by_losses):
        label = w.loc.ngettext("%(n)s earlier miscarriage", "%(n)s earlier miscarriages", k) % {
            "n": loc.number(k)
        }
        bars.append(Bar(label, est, low, high, highlight=False))
    described = loc.join(
        [
            _("%(label)s: %(estimate)s (range %(low)s to %(high)s)")
            % {
                "label": b.label,
                "estimate": loc.percent(b.estimate),
                "low": loc.percent(b.low or 0),
                "high": loc.percent(b.high or 0),
            }
            for b in bars
        ]
    )
    return BarChart(
        title=_("Chance of miscarriage in the next pregnancy at age %(age)s")
        % {"age": loc.number(w.content.charts.risk_by_losses.example_age)},
        axis_label=_("Chance of miscarriage"),
        bars=tuple(bars),
        alt=_("Bar chart by number of earlier miscarriages in a row: %(values)s.")
        % {"values": described},
        interval_note=_("The lines show the range in which the true figure probably lies."),
    )


def _tests_overview(w: _Writer) -> Table:
    """Every test the knowledge base covers, with each guideline's advice."""
    _ = w._
    positions: dict[str, list[tuple[str, str, str]]] = {}
    for item in w.kb.investigations:
        rows = positions.setdefault(item.test, [])
        entry = (item.guideline, item.recommendation, item.verification)
        if entry not in rows:
            rows.append(entry)
    order = {"recommended": 0, "consider": 1, "not_recommended": 2}
    rows_out = []
    codes = sorted(
        positions,
        key=lambda c: (min(order[r] for _g, r, _v in positions[c]), list(positions).index(c)),
    )
    for code in codes:
        rows_out.append(
            (
                Cell(w.label(w.content.tests, code)),
                w.explained(w.content.tests[code]),
                _positions_cell(
                    w,
                    positions[code],
                    {i.citation.ref for i in w.kb.investigations if i.test == code},
                ),
            )
        )
    return Table(
        caption=_("Tests and what the guidelines advise"),
        headers=(_("Test"), _("What it is for"), _("What the guidelines advise")),
        rows=tuple(rows_out),
    )


def _positions_cell(
    w: _Writer, positions: Sequence[tuple[str, str, str]], refs: Iterable[str]
) -> Cell:
    _ = w._
    lines = tuple(
        Line(
            _("%(guideline)s: %(advice)s")
            % {"guideline": w.guideline(gid), "advice": _(RECOMMENDATION[rec])},
            verification == "unverified",
        )
        for gid, rec, verification in _dedupe_positions(positions)
    )
    return Cell("", w.sources.cite(refs), any(x.unverified for x in lines), lines)


def _dedupe_positions(positions: Sequence[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """One line per guideline and advice (several conditional items can give the same)."""
    seen: dict[tuple[str, str], str] = {}
    rank = {"verified": 0, "secondary": 1, "unverified": 2}
    for gid, rec, ver in positions:
        key = (gid, rec)
        if key not in seen or rank[ver] < rank[seen[key]]:
            seen[key] = ver
    return [(g, r, v) for (g, r), v in seen.items()]


# --- personal sections -------------------------------------------------------------------


def _personal_sections(
    w: _Writer,
    a: Assessment,
    figures: ModelFigures,
    results: list[tuple[str, date, str | None, float | None, str | None]],
) -> list[Section]:
    sections = [
        Section("you", w._("Your situation"), tuple(_situation(w, a)), personal=True),
        Section("your_chances", w._("Your chances"), tuple(_chances(w, a, figures)), True),
        Section("your_tests", w._("Your tests"), tuple(_your_tests(w, a.workup)), True),
        Section("your_results", w._("Your results"), tuple(_your_results(w, a, results)), True),
        Section("your_care", w._("Your care plan"), tuple(_your_care(w, a.care_plan)), True),
    ]
    if a.disagreements:
        sections.append(
            Section(
                "disagreements",
                w._("Where the guidelines disagree"),
                tuple(_disagreements(w, a)),
                True,
            )
        )
    return sections


def _situation(w: _Writer, a: Assessment, short: bool = False) -> list[Block]:
    """Her history and whether each guideline's definition applies. `short`: guidelines with
    the same answer and meaning share one row."""
    _ = w._
    loc = w.loc
    h = a.history
    n = loc.number
    intro = loc.sentences(
        _("You are %(age)s years old.") % {"age": n(a.patient.age)},
        loc.ngettext(
            "You have been pregnant %(n)s time.",
            "You have been pregnant %(n)s times.",
            h.pregnancies,
        )
        % {"n": n(h.pregnancies)},
        loc.ngettext(
            "%(n)s pregnancy ended in a loss.", "%(n)s pregnancies ended in a loss.", h.losses_total
        )
        % {"n": n(h.losses_total)},
        loc.ngettext(
            "You have %(n)s child born alive.", "You have %(n)s children born alive.", h.live_births
        )
        % {"n": n(h.live_births)}
        if h.live_births
        else "",
    )
    blocks: list[Block] = [
        Para(intro),
        Para(
            _(
                "Guidelines count losses differently, so the answer to “is this recurrent "
                "pregnancy loss?” depends on the guideline. The table shows each one."
            )
        ),
    ]
    rows = []
    # In the assessment's order: the clinic profile's, primary guideline first.
    for gid, d in a.definitions.items():
        definition = w.kb.definitions.get(gid)
        needed = definition.min_losses if definition else 0
        counted = loc.ngettext("%(n)s loss counts", "%(n)s losses count", d.losses_counted) % {
            "n": loc.number(d.losses_counted)
        }
        kind = {
            "primary": _("primary: no earlier birth"),
            "secondary": _("secondary: after a birth"),
        }.get(d.kind or "")
        if d.meets and kind:
            answer = _("%(answer)s (%(counted)s); %(kind)s") % {
                "answer": _("Yes"),
                "counted": counted,
                "kind": kind,
            }
        elif d.meets:
            answer = _("%(answer)s (%(counted)s)") % {"answer": _("Yes"), "counted": counted}
        else:
            answer = _("%(answer)s (%(counted)s; %(needed)s)") % {
                "answer": _("No"),
                "counted": counted,
                "needed": loc.ngettext("%(n)s is needed", "%(n)s are needed", needed)
                % {"n": loc.number(needed)},
            }
        meaning = {
            "indicated": _("Tests to look for a cause are advised."),
            "discretionary": _("Your doctor may offer tests to look for a cause."),
            "not_indicated": _("Tests are not usually offered yet."),
        }[d.evaluation]
        refs = [definition.citation.ref] if definition else []
        rows.append(
            (
                Cell(w.guideline(gid)),
                Cell(answer, w.sources.cite(refs), d.verification == "unverified"),
                Cell(meaning),
            )
        )
    if short:
        rows = _merge_same_answers(w, rows)
    blocks.append(
        Table(
            caption=_("Does the name “recurrent pregnancy loss” apply to you?"),
            headers=(_("Guideline"), _("Does it apply?"), _("What this means")),
            rows=tuple(rows),
        )
    )
    return blocks


def _merge_same_answers(
    w: _Writer, rows: list[tuple[Cell, Cell, Cell]]
) -> list[tuple[Cell, Cell, Cell]]:
    """One row per (answer, meaning), naming every guideline that gives it, in order."""
    merged: dict[tuple[str, bool, str], tuple[list[str], set[int]]] = {}
    for name, answer, meaning in rows:
        names, refs = merged.setdefault((answer.text, answer.unverified, meaning.text), ([], set()))
        names.append(name.text)
        refs.update(answer.refs)
    return [
        (
            Cell(w.loc.join(names)),
            Cell(answer, tuple(sorted(refs)), unverified),
            Cell(meaning),
        )
        for (answer, unverified, meaning), (names, refs) in merged.items()
    ]


OUTSIDE_DATA = N_(
    "The studies behind our estimates do not include women in your situation (for example "
    "your age or number of losses), so we give no figure here. Your doctor can tell you more."
)


NOT_COVERED = N_(
    "This figure does not take into account everything your doctor knows about you: for "
    "example a cause that was found and its treatment, a loss after 14 weeks or a stillbirth. "
    "Ask your doctor what it means for you."
)


CHANGEABLE = {
    "smoking": N_(
        "Smoking: in studies of many women, miscarriage was about %(pct)s more common in women "
        "who smoked. Stopping is one of the changes you can make."
    ),
    "bmi_over_30": N_(
        "Weight: miscarriage was about %(pct)s more common in women with a BMI of 30 or more."
    ),
    "bmi_over_25": N_(
        "Weight: miscarriage was about %(pct)s more common in women with a BMI from 25 to 30."
    ),
    "caffeine": N_(
        "Caffeine: each extra 100 mg a day went with about %(pct)s more pregnancy losses."
    ),
}


def _what_you_can_change(w: _Writer, figures: ModelFigures) -> list[Block]:
    _ = w._
    if not figures.changeable:
        return []
    blocks: list[Block] = [
        Para(
            _(
                "What you can change. These figures come from studies of many women; they "
                "describe groups, not a promise for you."
            )
        )
    ]
    for factor, percent, ref in figures.changeable:
        text = _(CHANGEABLE[factor]) % {"pct": w.loc.percent(percent / 100)}
        blocks.append(Para(text, w.sources.cite([ref])))
    return blocks


def _over_the_years(w: _Writer, a: Assessment) -> list[Block]:
    """The chance of having begun the pregnancy that leads to a baby within 1, 2, 5 years."""
    _ = w._
    loc = w.loc
    cum = a.prognosis.cumulative_live_birth
    if cum is None or not cum.years or any(y.estimate is None for y in cum.years):
        return []
    last = cum.years[-1]
    assert last.estimate is not None and last.interval is not None
    refs = w.sources.cite(["lund-2012", "rplcare-model"])
    bars = []
    for y in cum.years:
        assert y.estimate is not None and y.interval is not None
        label = loc.ngettext("Within %(n)s year", "Within %(n)s years", y.years) % {
            "n": loc.number(y.years)
        }
        bars.append(Bar(label, y.estimate, y.interval[0], y.interval[1]))
    described = loc.join(
        [
            _("%(label)s: %(estimate)s (range %(low)s to %(high)s)")
            % {"label": b.label, **_risk_text(loc, b.estimate, b.low, b.high)}
            for b in bars
        ]
    )
    return [
        Para(
            _(
                "Will you have a baby? If you keep trying after a loss, the chance of having "
                "begun, within %(years)s years, the pregnancy that leads to a baby is about "
                "%(estimate)s (between %(low)s and %(high)s). The baby is born that "
                "pregnancy's length later."
            )
            % {"years": loc.number(last.years), **_risk_text(loc, last.estimate, *last.interval)},
            refs,
        ),
        BarChart(
            title=_("Chance of having begun the pregnancy that leads to a baby"),
            axis_label=_("Chance"),
            bars=tuple(bars),
            alt=_("Bar chart of the chance over the years: %(values)s.") % {"values": described},
            interval_note=_("The lines show the range in which the true figure probably lies."),
        ),
    ]


def _risk_text(
    loc: Localizer, est: float | None, low: float | None, high: float | None
) -> dict[str, str]:
    return {
        "estimate": loc.percent(est or 0.0),
        "low": loc.percent(low or 0.0),
        "high": loc.percent(high or 0.0),
    }


def _chances(w: _Writer, a: Assessment, figures: ModelFigures, short: bool = False) -> list[Block]:
    """The chances. `short` (the short leaflet): one chart, the chance of a baby over the years
    (or, without that figure, the next-pregnancy chart), no weekly curve, and what she can
    change left to its own section."""
    _ = w._
    loc = w.loc
    nxt = a.prognosis.next_pregnancy
    risk = nxt.miscarriage_risk
    live = nxt.live_birth_chance
    model_refs = w.sources.cite(["rplcare-model"])
    if (
        risk.estimate is None
        or risk.interval is None
        or live.estimate is None
        or live.interval is None
    ):
        # Outside the data the model was fitted to: no figure, no chart.
        return [Para(_(OUTSIDE_DATA), model_refs)]
    blocks: list[Block] = [
        Para(
            _(
                "We estimate the chance of a miscarriage in your next pregnancy at %(estimate)s. "
                "The true figure probably lies between %(low)s and %(high)s."
            )
            % _risk_text(loc, risk.estimate, *risk.interval),
            model_refs,
        ),
        Para(
            _(
                "The chance that your next pregnancy ends with a baby born alive is about "
                "%(estimate)s (between %(low)s and %(high)s)."
            )
            % _risk_text(loc, live.estimate, *live.interval),
            model_refs,
        ),
        Para(
            _(
                "This estimate uses results from specialist clinics for couples with recurrent "
                "pregnancy loss, because you meet at least one definition."
            )
            if nxt.setting == "clinic"
            else _("This estimate uses national registers of all pregnancies."),
            w.sources.cite(["magnus-2019"] if nxt.setting == "population" else ["lund-2012"]),
        ),
    ]
    if nxt.not_covered:
        blocks.append(Para(_(NOT_COVERED), model_refs))
    bars = [
        Bar(_("You"), risk.estimate, risk.interval[0], risk.interval[1], highlight=True),
    ]
    if figures.population_same_age is not None:
        est, low, high = figures.population_same_age
        bars.append(Bar(_("Women of your age, no earlier miscarriage"), est, low, high))
    described = loc.join(
        [
            _("%(label)s: %(estimate)s (range %(low)s to %(high)s)")
            % {"label": b.label, **_risk_text(loc, b.estimate, b.low or 0, b.high or 0)}
            for b in bars
        ]
    )
    over_the_years = _over_the_years(w, a)
    comparison = (
        BarChart(
            title=_("Chance of miscarriage in your next pregnancy"),
            axis_label=_("Chance of miscarriage"),
            bars=tuple(bars),
            alt=_("Bar chart comparing your chance with that of other women: %(values)s.")
            % {"values": described},
            interval_note=_("The lines show the range in which the true figure probably lies."),
        ),
    )
    if short and over_the_years:
        blocks += over_the_years
    else:
        blocks += [*comparison, *over_the_years]
    if not short:
        blocks += _what_you_can_change(w, figures)
    cur = a.prognosis.current_pregnancy
    if cur is not None and (
        cur.loss_risk_to_20_weeks.estimate is None or cur.loss_risk_to_12_weeks.estimate is None
    ):
        blocks.append(Para(_(OUTSIDE_DATA), model_refs))
    elif cur is not None:
        weeks, days = divmod(cur.gestational_age_days, 7)
        r12 = cur.loss_risk_to_12_weeks
        r20 = cur.loss_risk_to_20_weeks
        parts = [
            loc.ngettext(
                "You are now %(weeks)s weeks and %(days)s day pregnant (%(weeks)s+%(days)s).",
                "You are now %(weeks)s weeks and %(days)s days pregnant (%(weeks)s+%(days)s).",
                days,
            )
            % {"weeks": loc.number(weeks), "days": loc.number(days)}
        ]
        if cur.gestational_age_days < WEEK_12:
            parts.append(
                _(
                    "The chance of losing this pregnancy before 12 weeks is about %(estimate)s "
                    "(between %(low)s and %(high)s)."
                )
                % _risk_text(loc, r12.estimate, *(r12.interval or (0.0, 0.0)))
            )
        parts.append(
            (
                _(
                    "The chance of losing it before 20 weeks is about %(estimate)s (between "
                    "%(low)s and %(high)s)."
                )
                if short  # no weekly chart in the short leaflet
                else _(
                    "The chance of losing it before 20 weeks is about %(estimate)s (between "
                    "%(low)s and %(high)s). The chart shows how this chance falls each week the "
                    "pregnancy goes on."
                )
            )
            % _risk_text(loc, r20.estimate, *(r20.interval or (0.0, 0.0)))
        )
        if cur.heartbeat_seen:
            parts.append(_("A heartbeat has been seen, which is reassuring."))
        text = loc.sentences(*parts)
        blocks.append(Para(text, w.sources.cite(["tong-2008", "westin-2007", "rplcare-model"])))
    if cur is not None and cur.loss_risk_to_20_weeks.estimate is not None and not short:
        # The model's curve already starts at 5 weeks (prognosis.current.CURVE_FROM_DAY).
        keep = [(p.day / 7, p.risk) for p in cur.curve_to_20_weeks]
        sample = [(wk, r) for wk, r in keep if abs(wk - round(wk)) < 1e-9 and round(wk) % 2 == 0]
        described = loc.join(
            [
                _("week %(week)s: %(risk)s") % {"week": loc.number(wk), "risk": loc.percent(r)}
                for wk, r in sample
            ]
        )
        blocks.append(
            CurveChart(
                title=_("Chance of losing this pregnancy before 20 weeks, by week"),
                x_label=_("Week of pregnancy"),
                y_label=_("Chance of loss before 20 weeks"),
                weeks=tuple(wk for wk, _r in keep),
                risks=tuple(r for _wk, r in keep),
                marker_week=cur.gestational_age_days / 7,
                marker_label=_("You are here"),
                alt=_(
                    "Line chart: the chance of losing the pregnancy before 20 weeks, if it "
                    "is still going on at each week: %(values)s. You are at week %(now)s."
                )
                % {"values": described, "now": loc.number(cur.gestational_age_days / 7, 1)},
            )
        )
    blocks.append(
        Para(
            _(
                "These figures describe groups of people like you. They cannot say what will "
                "happen to you. Talk about them with your doctor."
            )
        )
    )
    return blocks


def _your_tests(w: _Writer, workup: list[WorkupOut]) -> list[Block]:
    _ = w._
    loc = w.loc
    groups: dict[str, list[WorkupOut]] = {}
    for item in workup:
        groups.setdefault(item.test, []).append(item)

    def status_of(items: list[WorkupOut]) -> str:
        return min((i.status for i in items), key=STATUS_ORDER.index)

    advised = {
        code: items
        for code, items in groups.items()
        if any(i.recommendation != "not_recommended" for i in items)
    }
    against = [code for code in groups if code not in advised]
    rows = []
    for code in sorted(advised, key=lambda c: STATUS_ORDER.index(status_of(advised[c]))):
        items = advised[code]
        status = status_of(items)
        text = _(STATUS[status])
        if status == "repeat":
            due = min((i.due_date for i in items if i.due_date), default=None)
            if due is not None:
                text = _("Repeat on or after %(date)s") % {"date": loc.date(due)}
        positions = [(i.guideline, i.recommendation, i.verification) for i in items]
        rows.append(
            (
                Cell(w.label(w.content.tests, code)),
                w.explained(w.content.tests[code]),
                _positions_cell(w, positions, {i.citation_detail.ref for i in items}),
                Cell(text),
            )
        )
    blocks: list[Block] = [
        Para(
            _(
                "These are the tests that at least one guideline advises or allows for you. "
                "Your doctor will tell you which ones your clinic offers."
            )
        ),
        Table(
            caption=_("Tests for you"),
            headers=(_("Test"), _("What it is for"), _("What the guidelines advise"), _("Status")),
            rows=tuple(rows),
        ),
    ]
    if against:
        names = loc.join([loc.in_sentence(w.label(w.content.tests, c)) for c in against])
        refs = {i.citation_detail.ref for c in against for i in groups[c]}
        blocks.append(
            Para(
                _(
                    "At least one guideline advises against these tests, and none advises "
                    "them for you: %(tests)s."
                )
                % {"tests": names},
                w.sources.cite(refs),
            )
        )
    return blocks


def _result_text(w: _Writer, result: str | None, value: float | None, unit: str | None) -> str:
    parts = []
    if result is not None:
        parts.append(w._(RESULT[result]) if result in RESULT else result)
    if value is not None:
        parts.append(w.loc.number(value, 2) + (f" {unit}" if unit else ""))
    return w.loc.join(parts) or "-"


def _finding_rows(w: _Writer, findings: list[tuple[str, str]]) -> tuple[tuple[Cell, ...], ...]:
    """(category, status) -> a table row: plain name, finding, what it means."""
    rows = []
    for category, status in findings:
        item = w.content.causes.get(category)
        rows.append(
            (
                Cell(w.label(w.content.causes, category)),
                Cell(w._(CAUSE_STATUS[status])),
                w.explained(item) if item else Cell(""),
            )
        )
    return tuple(rows)


def _your_results(
    w: _Writer,
    a: Assessment,
    results: list[tuple[str, date, str | None, float | None, str | None]],
) -> list[Block]:
    _ = w._
    loc = w.loc
    blocks: list[Block] = []
    if results:
        rows = tuple(
            (
                Cell(w.label(w.content.tests, code)),
                Cell(loc.date(day)),
                Cell(_result_text(w, result, value, unit)),
            )
            for code, day, result, value, unit in sorted(results, key=lambda r: r[1])
        )
        blocks.append(
            Table(
                caption=_("Your test results"),
                headers=(_("Test"), _("Date"), _("Result")),
                rows=rows,
            )
        )
    else:
        blocks.append(Para(_("Your clinic has not entered any test results yet.")))
    present = [r for r in a.risk_factors if r.status == "present"]
    shown = [c for c in a.causes if c.status != "excluded"]
    rows_c = _finding_rows(w, [(c.category, c.status) for c in shown])
    if rows_c:
        blocks.append(
            Table(
                caption=_("What your results may mean"),
                headers=(_("Possible cause"), _("Finding"), _("What it means")),
                rows=rows_c,
            )
        )
    # Risk factors are not causes: their own table, headed as something you can change.
    rows_r = _finding_rows(w, [(r.category, r.status) for r in present])
    if rows_r:
        blocks.append(
            Table(
                caption=_("Risk factors you can change"),
                headers=(_("Risk factor"), _("Finding"), _("What it means")),
                rows=rows_r,
            )
        )
    # "Your tests did not find: no cause found" would be a double negative: when a cause was
    # found, "unexplained" is excluded, but it is not a finding to list here.
    excluded = [c for c in a.causes if c.status == "excluded" and c.category != "unexplained"]
    if excluded:
        blocks.append(
            Para(
                _("Your tests did not find: %(causes)s.")
                % {
                    "causes": loc.join(
                        [loc.in_sentence(w.label(w.content.causes, c.category)) for c in excluded]
                    )
                }
            )
        )
    if a.causes_not_assessed:
        blocks.append(
            Para(
                _("Not tested yet, so still open: %(causes)s.")
                % {
                    "causes": loc.join(
                        [
                            loc.in_sentence(w.label(w.content.causes, c.category))
                            for c in a.causes_not_assessed
                        ]
                    )
                }
            )
        )
    return blocks


def _your_care(w: _Writer, care: list[CareOut]) -> list[Block]:
    _ = w._
    groups: dict[str, list[CareOut]] = {}
    for item in care:
        groups.setdefault(item.intervention, []).append(item)
    order = {"recommended": 0, "consider": 1, "not_recommended": 2}
    codes = sorted(
        groups,
        key=lambda c: (min(order[i.recommendation] for i in groups[c]), list(groups).index(c)),
    )
    rows = tuple(
        (
            Cell(w.label(w.content.interventions, code)),
            w.explained(w.content.interventions[code]),
            _positions_cell(
                w,
                [(i.guideline, i.recommendation, i.verification) for i in groups[code]],
                {i.citation_detail.ref for i in groups[code]},
            ),
        )
        for code in codes
    )
    if not rows:
        return [Para(_("No treatment or support items apply yet."))]
    return [
        Para(
            _(
                "This is what the guidelines say about treatment and support in your situation. "
                "Your doctor will talk with you about what suits you."
            )
        ),
        Table(
            caption=_("Treatment and support"),
            headers=(_("Treatment or support"), _("What it is"), _("What the guidelines advise")),
            rows=rows,
        ),
    ]


def _disagreements(w: _Writer, a: Assessment) -> list[Block]:
    _ = w._
    names = []
    for d in a.disagreements:
        found = next(filter(None, (w.item_code(p.id) for p in d.positions)), None)
        if found is None:
            continue
        kind, code = found
        table = w.content.tests if kind == "test" else w.content.interventions
        name = w.label(table, code)
        if name not in names:
            names.append(name)
    return [
        Para(
            _(
                "The guidelines give different advice about: %(topics)s. The tables above show "
                "each guideline's advice. rplcare does not choose between them; your doctor "
                "can explain which fits you best."
            )
            % {"topics": w.loc.join([w.loc.in_sentence(n) for n in names])}
        )
    ]


# --- the short personal leaflet -----------------------------------------------------------


def _short_sections(
    w: _Writer, a: Assessment, figures: ModelFigures, online_url: str | None
) -> list[Section]:
    """At most four A4 pages: what happened and what it means, the chances (one chart), the
    tests still to do, the care plan, what she can change, and support. Each guideline's
    position, the full tests table and the general information are in the booklet."""
    _ = w._
    general = {s.id: s for s in w.content.general}
    you = _situation(w, a, short=True)
    shown = [c for c in a.causes if c.status != "excluded"]
    # As lists: "name: what it means (finding)".
    rows_c = _meaning_first(_finding_rows(w, [(c.category, c.status) for c in shown]))
    if rows_c:
        you.append(
            Table(
                caption=_("What your results may mean"),
                headers=(_("Possible cause"), _("Finding"), _("What it means")),
                rows=rows_c,
                as_list=True,
            )
        )
    change: list[Block] = _what_you_can_change(w, figures)
    present: list[tuple[str, str]] = [
        (r.category, r.status) for r in a.risk_factors if r.status == "present"
    ]
    rows_r = _meaning_first(_finding_rows(w, present))
    if rows_r:
        change.append(
            Table(
                caption=_("Risk factors you can change"),
                headers=(_("Risk factor"), _("Finding"), _("What it means")),
                rows=rows_r,
                as_list=True,
            )
        )
    # "Healthy habits help your general health in pregnancy ...": the last paragraph of the
    # general section about the next pregnancy.
    if "next_pregnancy" in general:
        change.append(w.para(general["next_pregnancy"].paragraphs[-1]))
    support: list[Block] = []
    if "feelings" in general:
        support += [w.para(p) for p in general["feelings"].paragraphs]
    return [
        Section("you", _("Your situation"), tuple(you), personal=True),
        Section(
            "your_chances", _("Your chances"), tuple(_chances(w, a, figures, short=True)), True
        ),
        Section("your_tests", _("What happens next"), tuple(_tests_to_do(w, a.workup)), True),
        Section("your_care", _("Your care plan"), tuple(_short_care(w, a.care_plan)), True),
        Section("change", _("What you can change"), tuple(change), True),
        Section("support", _("Feelings and support"), tuple(support), True),
    ]


def _meaning_first(rows: tuple[tuple[Cell, ...], ...]) -> tuple[tuple[Cell, ...], ...]:
    return tuple((name, meaning, finding) for name, finding, meaning in rows)


def _tests_to_do(w: _Writer, workup: list[WorkupOut]) -> list[Block]:
    """The tests still to do or to repeat, why and when; the optional ones by name."""
    _ = w._
    loc = w.loc
    groups: dict[str, list[WorkupOut]] = {}
    for item in workup:
        if item.recommendation != "not_recommended":
            groups.setdefault(item.test, []).append(item)

    def status_of(items: list[WorkupOut]) -> str:
        return min((i.status for i in items), key=STATUS_ORDER.index)

    waiting = {
        code: status_of(items)
        for code, items in groups.items()
        if status_of(items) in ("repeat", "to_do")
    }
    optional = [code for code, items in groups.items() if status_of(items) == "optional"]
    # One list per status, headed by it (to repeat, with the date; not done yet).
    lists: dict[str, list[tuple[Cell, ...]]] = {}
    for code in sorted(waiting, key=lambda c: STATUS_ORDER.index(waiting[c])):
        status = waiting[code]
        row: tuple[Cell, ...] = (
            Cell(w.label(w.content.tests, code)),
            w.explained(w.content.tests[code]),
        )
        if status == "repeat":
            due = min((i.due_date for i in groups[code] if i.due_date), default=None)
            if due is not None:
                row += (Cell(_("Repeat on or after %(date)s") % {"date": loc.date(due)}),)
        lists.setdefault(status, []).append(row)
    blocks: list[Block] = []
    if lists:
        blocks.append(
            Para(
                _(
                    "These are the tests that at least one guideline advises or allows for you. "
                    "Your doctor will tell you which ones your clinic offers."
                )
            )
        )
    for status, rows in lists.items():
        blocks.append(
            Table(
                caption=_(STATUS[status]),
                headers=(_("Test"), _("What it is for"), _("Status")),
                rows=tuple(rows),
                as_list=True,
            )
        )
    if optional:
        blocks.append(
            Para(
                _("You can also talk over these tests with your doctor: %(tests)s.")
                % {"tests": loc.join([w.label(w.content.tests, c) for c in optional])}
            )
        )
    if not blocks:
        blocks.append(
            Para(_("No tests are waiting for you now. Your doctor will tell you if that changes."))
        )
    return blocks


def _short_care(w: _Writer, care: list[CareOut]) -> list[Block]:
    """What at least one guideline advises, explained; what one allows, by name."""
    _ = w._
    recs: dict[str, set[str]] = {}
    for item in care:
        recs.setdefault(item.intervention, set()).add(item.recommendation)
    advised = [code for code, r in recs.items() if "recommended" in r]
    considered = [code for code, r in recs.items() if "recommended" not in r and "consider" in r]
    rows = tuple(
        (
            Cell(w.label(w.content.interventions, code)),
            w.explained(w.content.interventions[code]),
        )
        for code in advised
    )
    if not rows and not considered:
        return [Para(_("No treatment or support items apply yet."))]
    blocks: list[Block] = [
        Para(
            _(
                "This is what the guidelines say about treatment and support in your situation. "
                "Your doctor will talk with you about what suits you."
            )
        )
    ]
    if rows:
        blocks.append(
            Table(
                caption=_("Treatment and support"),
                headers=(_("Treatment or support"), _("What it is")),
                rows=rows,
                as_list=True,
            )
        )
    if considered:
        blocks.append(
            Para(
                _("Your doctor may also talk with you about: %(items)s.")
                % {"items": w.loc.join([w.label(w.content.interventions, c) for c in considered])}
            )
        )
    return blocks
