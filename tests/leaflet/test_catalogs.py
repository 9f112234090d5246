"""Translations: complete, placeholders intact, compiled catalogs current, template current."""

from __future__ import annotations

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from rplcare.leaflet.catalog import check_catalog, extract_template, po_path, read_catalog
from rplcare.leaflet.i18n import CATALOGS, DOMAIN, locale_dir

TRANSLATED = list(CATALOGS)


@pytest.fixture(scope="module")
def template() -> Catalog:
    return extract_template()


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_is_translated_with_the_same_placeholders(
    lang: str, template: Catalog
) -> None:
    problems = check_catalog(lang, template)
    assert problems == [], "\n".join(f"{p.lang}: {p.problem}: {p.msgid[:70]}" for p in problems)


def test_the_check_catches_a_lost_placeholder_and_an_untranslated_message(
    template: Catalog,
) -> None:
    catalog = read_catalog("nl")
    with_placeholder = next(m for m in catalog if m.id and "%(date)s" in str(m.id))
    with_placeholder.string = "zonder datum"
    untranslated = next(m for m in catalog if m.id and m.id != with_placeholder.id)
    untranslated.string = ""
    problems = {(p.msgid, p.problem.split(" ")[0]) for p in check_catalog("nl", template, catalog)}
    assert (with_placeholder.id, "placeholders") in problems
    key = untranslated.id if isinstance(untranslated.id, str) else untranslated.id[0]
    assert (key, "untranslated") in problems


def test_committed_template_matches_the_code(template: Catalog) -> None:
    """Run scripts/update-catalogs after changing a message; this fails until you do."""
    with (locale_dir() / f"{DOMAIN}.pot").open("rb") as fh:
        committed = read_po(fh)
    assert {(m.id, m.context) for m in committed if m.id} == {
        (m.id, m.context) for m in template if m.id
    }


@pytest.mark.parametrize("lang", TRANSLATED)
def test_compiled_catalog_matches_its_po_file(lang: str) -> None:
    """The .mo is built from the .po at install time; a stale build would ship old text."""
    with po_path(lang).open("rb") as fh:
        po = read_po(fh)
    with po_path(lang).with_suffix(".mo").open("rb") as fh:
        mo = read_mo(fh)

    # Babel's read_mo keeps a message context as bytes and keys by msgid alone: key it here.
    def key(m: Message) -> tuple[object, str | None]:
        context = m.context.decode() if isinstance(m.context, bytes) else m.context
        return (tuple(m.id) if isinstance(m.id, list | tuple) else m.id, context)

    compiled_by_key = {key(m): m.string for m in mo if m.id}
    for message in po:
        if message.id:
            assert key(message) in compiled_by_key, message.id
            compiled = compiled_by_key[key(message)]
            if isinstance(compiled, list | tuple):
                assert list(compiled) == list(message.string or ()), message.id
            else:
                assert compiled == message.string, message.id
