"""Message extraction and catalog checks for the leaflet translations (maintainers and tests).

Messages come from two places: the Python modules of this package (`_`, `N_`, `gettext`,
`ngettext`) and the written content (content.yaml: titles, texts and labels).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from rplcare.leaflet.i18n import CATALOGS, DOMAIN, locale_dir

KEYWORDS = {
    "_": None,
    "N_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd%]")
_CONTENT_KEYS = ("title", "text", "label")


def package_dir() -> Path:
    return Path(str(resources.files("rplcare.leaflet")))


def _content_messages(path: Path) -> Iterator[tuple[int, str]]:
    """(line, message) for every title, text and label in content.yaml, in file order."""
    with path.open(encoding="utf-8") as fh:
        root = yaml.compose(fh)

    def walk(node: yaml.Node) -> Iterator[tuple[int, str]]:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value in _CONTENT_KEYS and isinstance(value, yaml.ScalarNode):
                    yield value.start_mark.line + 1, value.value
                else:
                    yield from walk(value)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                yield from walk(item)

    if root is not None:
        yield from walk(root)


def extract_template() -> Catalog:
    """The .pot: every message the leaflets can show."""
    base = package_dir()
    catalog = Catalog(domain=DOMAIN, project="rplcare", charset="utf-8", fuzzy=False)
    for py in sorted(base.glob("*.py")):
        for lineno, message, comments, context in extract_from_file(
            "python", str(py), keywords=KEYWORDS
        ):
            catalog.add(
                message,
                locations=[(f"leaflet/{py.name}", lineno)],
                auto_comments=comments,
                context=context,
            )
    content = base / "content.yaml"
    for lineno, message in _content_messages(content):
        catalog.add(message, locations=[("leaflet/content.yaml", lineno)])
    return catalog


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


@dataclass(frozen=True)
class CatalogProblem:
    lang: str
    msgid: str
    problem: str


def po_path(lang: str) -> Path:
    return locale_dir() / CATALOGS[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str) -> Catalog:
    with po_path(lang).open("rb") as fh:
        return read_po(fh, locale=CATALOGS[lang])


def _ids(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple | list) else [str(message.id)]


def _strs(message: Message) -> list[str]:
    return (
        list(message.string)
        if isinstance(message.string, tuple | list)
        else [str(message.string or "")]
    )


def check_catalog(
    lang: str, template: Catalog, catalog: Catalog | None = None
) -> list[CatalogProblem]:
    """Missing, untranslated, fuzzy, stale, and placeholder mismatches."""
    catalog = catalog if catalog is not None else read_catalog(lang)
    problems: list[CatalogProblem] = []
    for tmpl in template:
        if not tmpl.id:
            continue
        key = tmpl.id if isinstance(tmpl.id, str) else tmpl.id[0]
        message = catalog.get(tmpl.id, context=tmpl.context)
        if message is None:
            problems.append(CatalogProblem(lang, key, "missing from the catalog"))
            continue
        strings = _strs(message)
        if message.fuzzy:
            problems.append(CatalogProblem(lang, key, "marked fuzzy"))
        if not all(s.strip() for s in strings):
            problems.append(CatalogProblem(lang, key, "untranslated"))
            continue
        want = {frozenset(placeholders(i)) for i in _ids(tmpl)}
        for s in strings:
            have = frozenset(placeholders(s))
            if have not in want:
                problems.append(
                    CatalogProblem(
                        lang, key, f"placeholders {sorted(have)} differ from {sorted(min(want))}"
                    )
                )
    known = {(m.id if isinstance(m.id, str) else m.id[0], m.context) for m in template if m.id}
    for message in catalog:
        key = message.id if isinstance(message.id, str) else message.id[0]
        if message.id and (key, message.context) not in known:
            problems.append(CatalogProblem(lang, key, "not used by the leaflets (stale)"))
    return problems


def update_catalogs() -> list[Path]:
    """Write the .pot and merge it into every language's .po (new messages untranslated)."""
    template = extract_template()
    written = []
    pot = locale_dir() / f"{DOMAIN}.pot"
    pot.parent.mkdir(parents=True, exist_ok=True)
    with pot.open("wb") as fh:
        write_po(
            fh, template, omit_header=False, sort_output=False, width=100, include_lineno=False
        )
    written.append(pot)
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
