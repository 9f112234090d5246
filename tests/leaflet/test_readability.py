"""Plain language, measured (issue 16, item 3): every leaflet text in every language meets its
readability target (docs/readability.md), per section and overall."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from rplcare.leaflet import readability as r
from rplcare.leaflet.catalog import extract_template
from rplcare.leaflet.content import load_content
from rplcare.leaflet.i18n import LANGUAGES, localizer

_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
_SENTENCE = re.compile(r"[.?!。？！]\s*$")


def _fill(text: str) -> str:
    """Placeholders become a short number: what most of them are in the leaflet."""
    return _PLACEHOLDER.sub("12", text)


def leaflet_texts(lang: str) -> Iterator[tuple[str, str]]:
    """(section, text) for every sentence-like text the leaflet can show, in `lang`:
    content.yaml's titles and texts, and the sentences the code writes (build.py)."""
    content = load_content()
    loc = localizer(lang)
    _ = loc.gettext
    for section in content.general:
        yield section.id, _(section.title)
        for p in section.paragraphs:
            yield section.id, _(p.text)
    for name, table in (
        ("test descriptions", content.tests),
        ("care descriptions", content.interventions),
        ("cause descriptions", content.causes),
    ):
        for item in table.values():
            yield name, _(item.text)
    for message in extract_template():
        if not message.id or not any(f.endswith("build.py") for f, _n in message.locations):
            continue
        if isinstance(message.id, tuple | list):
            text = loc.ngettext(message.id[0], message.id[1], 1)
        elif message.context:
            text = loc.translations.pgettext(message.context, message.id)
        else:
            text = _(message.id)
        # Sentences only: labels, headings and table words are names, not prose.
        if _SENTENCE.search(message.id if isinstance(message.id, str) else message.id[0]):
            yield "personal", text


def sections(lang: str) -> dict[str, str]:
    joiner = "" if lang == "zh" else " "
    out: dict[str, list[str]] = {}
    for name, text in leaflet_texts(lang):
        out.setdefault(name, []).append(_terminate(_fill(text), lang))
    return {name: joiner.join(texts) for name, texts in out.items()}


def _terminate(text: str, lang: str) -> str:
    """A title is a sentence of its own."""
    text = text.strip()
    if re.search(r"[.?!。？！:：]$", text):
        return text
    return text + ("。" if lang == "zh" else ".")


# --- the formulas, on texts whose values are known ---------------------------------------


def test_syllables_follow_the_usual_english_rules() -> None:
    assert [r.syllables(w) for w in ("care", "simple", "baby", "pregnancy", "tested", "24")] == [
        1,
        2,
        2,
        3,
        2,
        1,
    ]


def test_flesch_matches_the_formula() -> None:
    # 2 sentences, 9 words, 10 syllables ("The cat sat on the mat." + "It was happy.").
    text = "The cat sat on the mat. It was happy."
    assert r.flesch(text) == pytest.approx(206.835 - 1.015 * 9 / 2 - 84.6 * 10 / 9)
    hard = (
        "Antiphospholipid syndrome necessitates anticoagulation, notwithstanding "
        "considerable interindividual variability regarding therapeutic effectiveness."
    )
    assert r.flesch(hard) < 0 < r.flesch(text)


def test_lix_counts_long_words_and_ends_sentences_at_colons() -> None:
    # 7 words, 2 sentences (the colon ends one), 2 long words (missfallet, graviditet).
    text = "Det gäller missfallet: en graviditet som slutar tidigt."
    assert r.lix(text) == pytest.approx(8 / 2 + 100 * 2 / 8)
    assert r.lix("Hej. Du.") == pytest.approx(1.0)


def test_ans_counts_sentences_per_hundred_characters() -> None:
    # 2 sentences, 9 Han characters and one number.
    text = "流产很常见。约有15%的人。"
    assert r.zh_chars(text) == 10
    assert r.ans(text) == pytest.approx(100 * 2 / 10)


def test_the_worst_sentence_comes_first() -> None:
    m = r.MEASURES["en"]
    worst = m.sentence_scores("It is fine. Antiphospholipid syndrome necessitates anticoagulation.")
    assert worst[0][1].startswith("Antiphospholipid")


# --- the leaflet ---------------------------------------------------------------------------


def _report(lang: str, texts: dict[str, str]) -> tuple[float, list[str]]:
    m = r.MEASURES[lang]
    overall = m.score(("" if lang == "zh" else " ").join(texts.values()))
    failures = []
    for name, text in texts.items():
        value = m.score(text)
        if not m.meets(value):
            worst = "\n    ".join(f"{v:6.1f}  {s}" for v, s in m.sentence_scores(text)[:5])
            failures.append(
                f"{name}: {m.name} {value:.1f} (target {m.target}); worst:\n    {worst}"
            )
    if not m.meets(overall):
        failures.append(f"overall: {m.name} {overall:.1f} (target {m.target})")
    return overall, failures


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_section_meets_the_readability_target(lang: str) -> None:
    texts = sections(lang)
    assert {"what_is_miscarriage", "care descriptions", "cause descriptions", "personal"} <= set(
        texts
    )
    _overall, failures = _report(lang, texts)
    assert not failures, "\n".join(failures)


def test_the_check_fails_on_hard_text_and_names_the_sentence() -> None:
    texts = {"x": "Antiphospholipid syndrome necessitates anticoagulation. It is fine."}
    _overall, failures = _report("en", texts)
    assert failures and "Antiphospholipid" in failures[0]
