"""Languages, gettext catalogs and locale formatting (Babel) for the leaflets.

Catalogs are `.po` files in `locale/`, compiled to `.mo` when the package is built
(hatch_build.py); English is the source language and needs no catalog.
"""

from __future__ import annotations

import gettext as _gettext
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

from rplcare.errors import InputError, RplcareError

DOMAIN = "rplcare"

Language = Literal["en", "nl", "sv", "zh"]
# Babel locale per language; British English because the source text uses British spelling.
LOCALES: dict[str, str] = {"en": "en_GB", "nl": "nl_NL", "sv": "sv_SE", "zh": "zh_Hans_CN"}
# Catalog directory per translated language (gettext's locale names).
CATALOGS: dict[str, str] = {"nl": "nl", "sv": "sv", "zh": "zh_Hans"}
# BCP 47 tag for <html lang>.
HTML_LANG: dict[str, str] = {"en": "en-GB", "nl": "nl", "sv": "sv", "zh": "zh-Hans"}
LANGUAGES: tuple[str, ...] = tuple(LOCALES)


def N_(message: str) -> str:
    return message


class CatalogMissingError(RplcareError):
    """A compiled catalog is missing: the package was not built (run `make install`)."""


def locale_dir() -> Path:
    return Path(str(resources.files("rplcare.leaflet").joinpath("locale")))


def check_language(lang: str) -> str:
    if lang not in LOCALES:
        raise InputError(f"unknown language {lang!r}; choose one of {', '.join(LOCALES)}")
    return lang


@cache
def _translations(lang: str) -> _gettext.NullTranslations:
    if lang == "en":
        return _gettext.NullTranslations()
    mo = locale_dir() / CATALOGS[lang] / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not mo.is_file():
        raise CatalogMissingError(
            f"compiled catalog {mo} is missing; install the package (make install) to compile "
            "the .po files"
        )
    with mo.open("rb") as fh:
        return Translations(fh, domain=DOMAIN)


@dataclass(frozen=True)
class Localizer:
    """Everything language-dependent: messages, numbers and dates."""

    lang: str

    @property
    def locale(self) -> Locale:
        return Locale.parse(LOCALES[self.lang])

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.lang]

    @property
    def translations(self) -> _gettext.NullTranslations:
        return _translations(self.lang)

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return self.translations.pgettext(context, message)

    def in_sentence(self, label: str) -> str:
        """A label (a name that starts with a capital) joined into running text: lower-case
        its first letter, unless the word is an abbreviation ("MTHFR", "HbA1c") or the
        language has no letter case."""
        first = label.split(" ", 1)[0]
        if self.lang == "zh" or len(first) < 2 or not first[1:].islower() or not first[0].isupper():
            return label
        return label[0].lower() + label[1:]

    def percent(self, share: float, digits: int | None = None) -> str:
        """A share as a percentage: one decimal below 10%, whole numbers above (unless set)."""
        if digits is None:
            digits = 1 if share < 0.1 else 0
        # Round first, then let the locale's own pattern (e.g. "8,7 %" in Swedish) show the
        # digits that remain.
        return format_percent(
            round(share, digits + 2), locale=self.locale, decimal_quantization=False
        )

    def number(self, value: float, digits: int = 0) -> str:
        pattern = "#,##0" + ("." + "#" * digits if digits else "")
        return format_decimal(value, pattern, locale=self.locale)

    def date(self, day: date) -> str:
        return format_date(day, format="long", locale=self.locale)

    def join(self, items: list[str]) -> str:
        """A list in the language's own way ("A, B and C", "A、B和C")."""
        from babel.lists import format_list

        return format_list(items, locale=self.locale) if items else ""

    def sentences(self, *parts: str) -> str:
        """Sentences one after another: Chinese needs no space between them."""
        return ("" if self.lang == "zh" else " ").join(p for p in parts if p)


def localizer(lang: str) -> Localizer:
    return Localizer(check_language(lang))
