"""The pages' catalogues: every text of the templates and ``web/`` has its bokmål and Swedish
translation, the placeholders survive translation, and the committed ``.mo`` files are the ``.po``
files compiled (``python -m web.i18n extract && … update && … compile`` keeps them so)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from web import i18n

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _source_ids() -> set[str]:
    method_map = [("**.py", "python"), ("templates/pages/**.html", "jinja2")]
    options = {"templates/pages/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    ids: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(i18n.HERE.parent),
        method_map,
        options,
        keywords={"_": None, "N_": None, "t": None, "gettext": None, "ngettext": (1, 2)},
    ):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


@pytest.mark.parametrize("lang", i18n.TRANSLATED)
def test_every_text_of_the_pages_is_translated_with_its_placeholders(lang: str) -> None:
    with open(i18n.HERE / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f)
    translated = {}
    for m in catalog:
        if not m.id:
            continue
        key = m.id[0] if isinstance(m.id, tuple) else m.id
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        assert all(strings), f"{lang}: no translation of {key!r}"
        for s in strings:
            assert set(PLACEHOLDER.findall(s)) == set(PLACEHOLDER.findall(key)), f"{lang}: {key!r} → {s!r}"
        translated[key] = strings
    missing = _source_ids() - set(translated)
    assert not missing, f"{lang}: texts without a translation (run python -m web.i18n extract/update): {missing}"


@pytest.mark.parametrize("lang", i18n.TRANSLATED)
def test_the_committed_mo_is_the_po_compiled(lang: str) -> None:
    folder = i18n.HERE / lang / "LC_MESSAGES"
    with open(folder / "messages.po", "rb") as f:
        po = {_key(m.id): _key(m.string) for m in read_po(f) if m.id}
    mo = {_key(m.id): _key(m.string) for m in read_mo(BytesIO((folder / "messages.mo").read_bytes())) if m.id}
    assert mo == po


def _key(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def test_money_dates_and_plurals_follow_the_language() -> None:
    assert i18n.money(Decimal("1200.5"), "NOK", "nb").replace("\xa0", " ") == "1 200,50 kr"
    assert i18n.money(Decimal("1200.5"), "NOK", "en") == "NOK\xa01,200.50"
    assert i18n.day(date(2025, 3, 3), "nb") == "3. mars 2025"
    assert i18n.day(date(2025, 3, 3), "sv") == "3 mars 2025"
    nb = i18n.translations("nb")
    assert (
        nb.ngettext("You have %(n)s unpaid claim.", "You have %(n)s unpaid claims.", 1) == "Du har %(n)s ubetalt krav."
    )
    assert (
        nb.ngettext("You have %(n)s unpaid claim.", "You have %(n)s unpaid claims.", 2) == "Du har %(n)s ubetalte krav."
    )
    assert i18n.translations("sv").gettext("My claims") == "Mina krav"
    assert i18n.negotiate("nn-NO,en;q=0.5") == "nb" and i18n.negotiate("sv-SE") == "sv" and i18n.negotiate(None) == "nb"
