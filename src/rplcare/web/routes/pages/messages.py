"""Validation problems in the clinician's words (U6).

The domain names fields by case path and values by code (``tests[0].result: 'pos' is not a
result of tsh``), which suits case files and the API. A form shows the same problem next to
the field it concerns, so here the path becomes the field's label and codes become the
knowledge base's labels. In the web app `as_of` is always today.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

from rplcare.domain.case import Outcome
from rplcare.knowledge.loader import load_knowledge
from rplcare.web.i18n import translate as _

# Internal names the domain uses in its messages, as a clinician would say them.
_WORDS = (
    (re.compile(r"\bnot before as_of\b"), "not before today"),
    (re.compile(r"\bafter as_of\b"), "after today"),
    (
        re.compile(r"\bgive either age or birth_date, not both\b"),
        "give the age or the birth date, not both",
    ),
    (re.compile(r"\bage or birth_date is required\b"), "give the age or the birth date"),
    (re.compile(r"\bthe patient's birth_date\b"), "the patient's birth date"),
    (re.compile(r"\bbirth_date\b"), "birth date"),
    (re.compile(r"\(indexes start at 0\)"), ""),
)
_PREGNANCY_INDEX = re.compile(r"\bpregnancies\[(\d+)\]")
_INDEX_COUNT = re.compile(r"\bindex (\d+) but the case has (\d+) pregnancies")
_QUOTED_CODE = re.compile(r"'([a-z0-9_]+)'")


@cache
def _code_labels() -> dict[str, str]:
    """Test codes and outcomes, with the words shown for them in the forms."""
    labels = {code: spec.label for code, spec in load_knowledge().vocabulary.tests.items()}
    labels |= {o.value: o.value.replace("_", " ") for o in Outcome}
    return labels


def _value_label(code: str) -> str:
    return _code_labels().get(code, code.replace("_", " "))


def humanize(message: str) -> str:
    """One problem's message (its path already removed) in plain words."""
    for pattern, words in _WORDS:
        message = pattern.sub(words, message)
    message = _INDEX_COUNT.sub(
        lambda m: f"pregnancy {int(m[1]) + 1} but the couple has {m[2]} pregnancies", message
    )
    message = _PREGNANCY_INDEX.sub(lambda m: f"pregnancy {int(m[1]) + 1}", message)
    # "of tsh" / "for tsh" / "tsh takes": test codes by their label.
    for code, label in load_knowledge().vocabulary.tests.items():
        message = re.sub(rf"(?<![\w']){re.escape(code)}(?![\w'])", label.label, message)
    for outcome in Outcome:
        message = re.sub(rf"\b{outcome.value}\b", outcome.value.replace("_", " "), message)
    message = _QUOTED_CODE.sub(lambda m: f"'{_value_label(m[1])}'", message)
    return re.sub(r"\s+", " ", message).strip(" ;")


def split(problem: str) -> tuple[str, str]:
    """``path: message`` -> (path, message); ("", problem) when it names no path."""
    path, sep, message = problem.partition(": ")
    if not sep or " " in path.strip():
        return "", problem
    return path.strip(), message


def labelled(problem: str, labels: Mapping[str, str]) -> str:
    """A problem for an error summary: the field's label, then the plain message."""
    path, message = split(problem)
    label = labels.get(path) or _path_words(path)
    return f"{_(label)}: {humanize(message)}" if label else humanize(message)


def _path_words(path: str) -> str:
    """A case path no form field names, in words: ``pregnancies[2].end_date`` -> ``Pregnancy 3,
    end date``."""
    if not path or path == "(case)":
        return ""
    words = _PREGNANCY_INDEX.sub(lambda m: f"pregnancy {int(m[1]) + 1}", path)
    words = re.sub(r"\btests\[(\d+)\]", lambda m: f"test result {int(m[1]) + 1}", words)
    words = words.replace("current_pregnancy", "current pregnancy").replace(".", ", ")
    words = words.replace("_", " ")
    return words[:1].upper() + words[1:]
