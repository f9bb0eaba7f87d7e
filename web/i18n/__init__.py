"""The pages' languages: Norwegian bokmål, Swedish and English (gettext catalogues, Babel).

The texts are written in English in the templates and the code (``_("…")``); ``nb`` and ``sv`` are
translated in ``<lang>/LC_MESSAGES/messages.po``, compiled to ``messages.mo`` beside it (committed;
``python -m web.i18n compile`` rebuilds them, a unit test checks they match the ``.po`` files and that
every text has its translation). Dates, money and numbers are formatted by Babel with the language's
locale; plurals come from the catalogue's plural forms.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations

HERE = Path(__file__).parent
DOMAIN = "messages"
LANGUAGES: dict[str, tuple[str, str]] = {
    "nb": ("Norsk bokmål", "nb_NO"),
    "sv": ("Svenska", "sv_SE"),
    "en": ("English", "en_GB"),
}
"""code → (its own name, Babel locale)."""
DEFAULT = "nb"
TRANSLATED = ("nb", "sv")  # English is the source language


@functools.cache
def translations(lang: str) -> NullTranslations:
    if lang not in TRANSLATED:
        return NullTranslations()
    return Translations.load(str(HERE), [lang], DOMAIN)


def locale(lang: str) -> Locale:
    return Locale.parse(LANGUAGES.get(lang, LANGUAGES[DEFAULT])[1])


def negotiate(accept_language: str | None) -> str:
    """The first of the browser's languages the pages speak (``no``/``nn`` read as bokmål), else bokmål."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        primary = tag.split("-")[0]
        if primary in ("nb", "no", "nn"):
            return "nb"
        if primary in LANGUAGES:
            return primary
    return DEFAULT


def money(amount: Decimal | str | None, currency: str, lang: str) -> str:
    """``1 200,00 kr`` (nb), ``1 200,00 kr`` (sv), ``NOK 1,200.00`` (en)."""
    if amount is None or amount == "":
        return ""
    value = Decimal(str(amount))
    if lang == "en":  # Babel's English puts no space after the currency code (NOK1,200.00)
        return format_currency(value, currency, format="¤\xa0#,##0.00", locale=locale(lang), currency_digits=False)
    return format_currency(value, currency, locale=locale(lang))


def number(value: Decimal | int | str, lang: str) -> str:
    return format_decimal(Decimal(str(value)), locale=locale(lang))


def day(value: date | str | None, lang: str, fmt: str = "medium") -> str:
    """A date in the language's own way (``3. mars 2025``, ``3 mars 2025``, ``3 Mar 2025``)."""
    if value is None or value == "":
        return ""
    d = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    if isinstance(d, datetime):
        d = d.date()
    return format_date(d, format=fmt, locale=locale(lang))


def moment(value: datetime | None, lang: str) -> str:
    if value is None:
        return ""
    return format_datetime(value, format="medium", locale=locale(lang))
