"""A letter's facts + the recipient + the letterhead → HTML (Jinja2) → PDF (WeasyPrint).

The templates are in ``letters/templates``: ``base.html`` and ``kravsak.css`` are the shared layout
the web pages extend too; ``letter.css`` the printed page (A4, the address in the window of a C5/E65
envelope); ``<language>/<kind>.html`` one per letter type. A letter is rendered in the language of
its jurisdiction (bokmål in Norway, Swedish in Sweden, the languages the law's notices are given in);
a debtor registered with English gets an English summary box on top.

Rendering is deterministic: the same facts, recipient and letterhead give the same bytes, so a
letter's SHA-256 can be checked by rendering it again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from letters.letterheads import Letterhead

for _noisy in ("fontTools", "weasyprint"):  # an INFO line per font table and step otherwise
    logging.getLogger(_noisy).setLevel(logging.WARNING)

TEMPLATES = Path(__file__).resolve().parent / "templates"
NBSP = "\u00a0"
TEMPLATE_VERSION = "1"

MONTHS = {
    "nb": "januar februar mars april mai juni juli august september oktober november desember".split(),
    "sv": "januari februari mars april maj juni juli augusti september oktober november december".split(),
}
LANGUAGE = {"NO": "nb", "SE": "sv"}
CLAIM_TYPES = {
    "nb": {
        "barnehage": "foreldrebetaling for barnehage",
        "sfo": "foreldrebetaling for skolefritidsordningen (SFO)",
        "kulturskole": "elevplass i kulturskolen",
        "husleie": "husleie for kommunal bolig",
        "helse_omsorg": "egenandel for helse- og omsorgstjenester",
        "kommunale_avgifter": "kommunale avgifter (vann, avløp, renovasjon og feiing)",
        "eiendomsskatt": "eiendomsskatt",
        "other": "krav fra kommunen",
    },
    "sv": {
        "barnomsorg": "avgift för förskola och fritidshem",
        "va": "avgift för vatten och avlopp",
        "renhallning": "avgift för avfallshantering",
        "hyra": "hyra för bostad",
        "lokalhyra": "hyra för lokal",
        "musikskola": "avgift för kulturskola",
        "vard_omsorg": "avgift för vård och omsorg",
        "other": "fordran från kommunen",
    },
}
NOTICE_NAMES = {
    "nb": {
        "purring": "betalingspåminnelse (purring)",
        "inkassovarsel": "inkassovarsel",
        "betalingsoppfordring": "betalingsoppfordring",
        "varsel_4_18": "varsel om tvangsfullbyrdelse",
    },
    "sv": {"paminnelse": "betalningspåminnelse", "inkassokrav": "inkassokrav", "avstangningsvarsel": "inkassokrav"},
}
TITLES = {
    "nb": {
        "purring": "Betalingspåminnelse",
        "inkassovarsel": "Inkassovarsel",
        "betalingsoppfordring": "Betalingsoppfordring",
        "varsel_4_18": "Varsel om tvangsfullbyrdelse",
        "payment_plan": "Nedbetalingsplan",
    },
    "sv": {
        "paminnelse": "Betalningspåminnelse",
        "inkassokrav": "Inkassokrav",
        "avstangningsvarsel": "Inkassokrav och varsel om avstängning av vatten",
        "payment_plan": "Amorteringsplan",
    },
}


class CannotRender(ValueError):
    """The letter cannot be made lawfully (no account for the creditor, no template for the kind)."""


@dataclass(frozen=True, slots=True)
class Recipient:
    name: str
    address: tuple[str, ...]  # the lines in the envelope window
    language: str  # nb | sv | en


def money(value: Any, lang: str) -> str:
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    whole, cents = f"{abs(amount):.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", NBSP)
    return f"kr{NBSP}{sign}{grouped},{cents}" if lang == "nb" else f"{sign}{grouped},{cents}{NBSP}kr"


def day(value: Any, lang: str) -> str:
    d = value if isinstance(value, date) else date.fromisoformat(str(value))
    months = MONTHS[lang]
    return (
        f"{d.day}.{NBSP}{months[d.month - 1]} {d.year}"
        if lang == "nb"
        else f"{d.day}{NBSP}{months[d.month - 1]} {d.year}"
    )


def pct(value: Any) -> str:
    return f"{Decimal(str(value)):.2f}".replace(".", ",") + f"{NBSP}%"


def kid(value: str) -> str:
    """Grouped in fives from the left, as on a giro."""
    return " ".join(value[i : i + 5] for i in range(0, len(value), 5))


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = pct
    env.filters["kid"] = kid
    return env


def template_for(kind: str, jurisdiction: str) -> str:
    lang = LANGUAGE[jurisdiction]
    name = f"{lang}/{kind}.html"
    if not (TEMPLATES / name).is_file():
        raise CannotRender(f"no {lang} template for a {kind} letter")
    return name


def render_html(
    facts: dict[str, Any], *, recipient: Recipient, sender: Letterhead, creditor_name: str, css_inline: bool = True
) -> str:
    jurisdiction = str(facts["jurisdiction"])
    lang = LANGUAGE[jurisdiction]
    if jurisdiction == "NO" and not sender.account or jurisdiction == "SE" and not sender.bankgiro:
        raise CannotRender(f"creditor {facts['creditor_id']} has no account in its letterhead")
    template = environment().get_template(template_for(str(facts["kind"]), jurisdiction))
    return template.render(
        L=facts,
        lang=lang,
        to=recipient,
        sender=sender,
        creditor=creditor_name,
        what=CLAIM_TYPES[lang].get(str(facts["claim_type"]), CLAIM_TYPES[lang]["other"]),
        title=TITLES[lang][str(facts["kind"])],
        notice_name=NOTICE_NAMES[lang],
        english=recipient.language == "en",
        money=lambda v: money(v, lang),
        day=lambda v: day(v, lang),
        styles=_styles() if css_inline else "",
        template_version=TEMPLATE_VERSION,
    )


@cache
def _styles() -> str:
    return (TEMPLATES / "kravsak.css").read_text(encoding="utf-8") + (TEMPLATES / "letter.css").read_text(
        encoding="utf-8"
    )


def render_pdf(html: str) -> bytes:
    """The PDF of a rendered letter (fonts from the system: Liberation Sans, else DejaVu Sans)."""
    return render_document(html)[0]


def render_document(html: str) -> tuple[bytes, int]:
    """The PDF and its number of pages."""
    from weasyprint import HTML

    document = HTML(string=html, base_url=str(TEMPLATES)).render()
    pdf: bytes = document.write_pdf()
    return pdf, len(document.pages)


def plain_text(html: str) -> str:
    """The words of a rendered letter, for the content check before it is sent."""
    text = re.sub(r"<(style|head)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    import html as _html

    return " ".join(_html.unescape(text).split())
