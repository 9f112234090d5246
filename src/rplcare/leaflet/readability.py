"""Readability measures for the leaflet texts (issue 16, item 3); see docs/readability.md.

Small implementations of published formulas, so that the tests can measure every leaflet text
in every language without a download at run time:

- English: Flesch reading ease (Flesch 1948): 206.835 - 1.015 * words/sentence
  - 84.6 * syllables/word. Higher is easier; 60 to 70 is "plain English".
- Swedish and Dutch: LIX (Björnsson 1968): words/sentence + 100 * long words/words, where a
  long word has more than six letters. Lower is easier; 30 to 40 is "simple / normal".
- Chinese: sentences per 100 characters (ANS), the sentence-length factor of Chinese text
  difficulty measures (as used by Wang et al., BMJ Open 2020): more than 10 is simple text,
  6 to 10 primary, below 6 intermediate or difficult.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")
# LIX (Björnsson) also ends a "sentence" at a colon.
_LIX_END = re.compile(r"(?<=[.!?:])\s+")
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)
_VOWELS = re.compile(r"[aeiouy]+")
_HAN = re.compile(r"[\u3400-\u9fff]")
_ZH_END = re.compile(r"[。！？；]")


def sentences(text: str, *, lix: bool = False) -> list[str]:
    pattern = _LIX_END if lix else _SENTENCE_END
    return [s for s in (p.strip() for p in pattern.split(text.strip())) if _WORD.search(s)]


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def syllables(word: str) -> int:
    """English syllables by vowel groups: a silent final e is dropped ("care"), "-le" after a
    consonant is kept ("simple"); a number counts as one word of one syllable."""
    w = word.lower()
    if not re.search(r"[a-z]", w):
        return 1
    count = len(_VOWELS.findall(w))
    if w.endswith("e") and not w.endswith(("le", "ee", "ye")) and count > 1:
        count -= 1
    if w.endswith(("es", "ed")) and count > 1 and not re.search(r"[td]ed$|[csxz]es$|[cs]hes$", w):
        count -= 1
    return max(count, 1)


def flesch(text: str) -> float:
    s = sentences(text)
    ws = words(text)
    if not s or not ws:
        return 100.0
    return 206.835 - 1.015 * len(ws) / len(s) - 84.6 * sum(map(syllables, ws)) / len(ws)


def lix(text: str) -> float:
    s = sentences(text, lix=True)
    ws = words(text)
    if not s or not ws:
        return 0.0
    long = sum(1 for w in ws if sum(c.isalpha() for c in w) > 6)
    return len(ws) / len(s) + 100 * long / len(ws)


def zh_chars(text: str) -> int:
    """Characters that carry meaning: Han characters, and each run of Latin letters or digits
    as one (a number or "IgG" takes one slot)."""
    return len(_HAN.findall(text)) + len(re.findall(r"[A-Za-z0-9.%]+", text))


def zh_sentences(text: str) -> list[str]:
    return [s for s in _ZH_END.split(text) if zh_chars(s)]


def ans(text: str) -> float:
    """Chinese: sentences per 100 characters."""
    n = zh_chars(text)
    return 100 * len(zh_sentences(text)) / n if n else 100.0


@dataclass(frozen=True)
class Measure:
    name: str
    higher_is_easier: bool
    target: float

    def score(self, text: str) -> float:
        return {"flesch": flesch, "lix": lix, "ans": ans}[self.name](text)

    def meets(self, value: float) -> bool:
        return value >= self.target if self.higher_is_easier else value <= self.target

    def sentence_scores(self, text: str) -> list[tuple[float, str]]:
        """Each sentence with its own score, hardest first (to name the worst)."""
        parts = zh_sentences(text) if self.name == "ans" else sentences(text)
        scored = [(self.score(p), p) for p in parts]
        return sorted(scored, key=lambda x: x[0], reverse=not self.higher_is_easier)


# The targets (docs/readability.md).
MEASURES: dict[str, Measure] = {
    "en": Measure("flesch", True, 60.0),
    "nl": Measure("lix", False, 40.0),
    "sv": Measure("lix", False, 40.0),
    "zh": Measure("ans", True, 4.0),
}
