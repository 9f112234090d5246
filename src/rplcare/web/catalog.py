"""Message extraction and catalog checks for the web UI's translations (maintainers, tests).

Messages come from the templates (`_("…")` calls) and the web package's Python modules (`_`,
`N_`: texts built in Python and translated when a template shows them).
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from rplcare.leaflet.catalog import CatalogProblem, check_catalog
from rplcare.leaflet.i18n import CATALOGS
from rplcare.web.i18n import DOMAIN, locale_dir

KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}


def package_dir() -> Path:
    return locale_dir().parent


def extract_template() -> Catalog:
    """The .pot: every message the web UI can show."""
    base = package_dir()
    catalog = Catalog(domain=DOMAIN, project="rplcare", charset="utf-8", fuzzy=False)
    sources = [("jinja2.ext:babel_extract", p) for p in sorted(base.glob("templates/**/*.html"))]
    sources += [("python", p) for p in sorted(base.glob("**/*.py")) if "migrations" not in p.parts]
    for method, path in sources:
        for lineno, message, comments, _context in extract_from_file(
            method, str(path), keywords=KEYWORDS
        ):
            if message:
                where = str(path.relative_to(base.parent))
                catalog.add(message, locations=[(where, lineno)], auto_comments=comments)
    return catalog


def po_path(lang: str) -> Path:
    return locale_dir() / CATALOGS[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str) -> Catalog:
    with po_path(lang).open("rb") as fh:
        return read_po(fh, locale=CATALOGS[lang])


def check(lang: str, template: Catalog) -> list[CatalogProblem]:
    """Missing, untranslated, fuzzy and stale messages, and placeholder mismatches."""
    return check_catalog(lang, template, read_catalog(lang))


def update_catalogs() -> list[Path]:
    """Write the .pot and merge it into every language's .po (new messages untranslated)."""
    template = extract_template()
    pot = locale_dir() / f"{DOMAIN}.pot"
    pot.parent.mkdir(parents=True, exist_ok=True)
    with pot.open("wb") as fh:
        write_po(fh, template, sort_output=False, width=100, include_lineno=False)
    written = [pot]
    for lang, folder in CATALOGS.items():
        path = po_path(lang)
        if path.exists():
            catalog = read_catalog(lang)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=folder, domain=DOMAIN, project="rplcare", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with path.open("wb") as fh:
            write_po(fh, catalog, width=100, include_previous=False, include_lineno=False)
        written.append(path)
    return written
