"""What the register knows about a debtor, and the checks a registration must pass.

Every check names the field and the rule; none quotes a national id, so errors may be logged.
National ids and organisation numbers are checked by ``domain.identity`` (python-stdnum):
fødselsnummer and D-nummer, personnummer and samordningsnummer, organisasjonsnummer and
organisationsnummer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from domain.identity import InvalidIdentity, validate_identity


class InvalidPersonalData(ValueError):
    """A registration breaks a rule; ``field`` and ``rule`` say which (never the value)."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


class Mailbox(StrEnum):
    """The debtor's digital mailbox as the contact register (KRR; in Sweden Mina meddelanden) says."""

    RESERVED = "reserved"  # reserved against digital communication: paper
    DIGIPOST = "digipost"
    EBOKS = "eboks"
    KIVRA = "kivra"
    NONE = "none"

    @property
    def digital(self) -> bool:
        return self in (Mailbox.DIGIPOST, Mailbox.EBOKS, Mailbox.KIVRA)


class Language(StrEnum):
    NB = "nb"
    SV = "sv"
    EN = "en"


POSTCODE = {"NO": re.compile(r"\d{4}"), "SE": re.compile(r"\d{3} ?\d{2}")}
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}")
PHONE = re.compile(r"\+?[0-9 ]{5,20}")
PAYMENT_CONSENTS = ("avtalegiro_consent", "efaktura_consent", "vipps")


@dataclass(frozen=True, slots=True)
class PostalAddress:
    lines: tuple[str, ...]
    postcode: str
    city: str
    country: str

    def block(self) -> list[str]:
        """The address as printed in an envelope window."""
        country = [] if self.country in ("NO", "SE") else [self.country]
        return [*self.lines, f"{self.postcode} {self.city.upper()}", *country]


@dataclass(frozen=True, slots=True)
class Person:
    """A debtor (person or organisation) as registered: all of it personal data, sealed at rest."""

    national_id: str  # compact form from domain.identity
    kind: str  # person | organisation
    jurisdiction: str  # NO | SE
    name: str
    address: PostalAddress | None
    mailbox: Mailbox
    language: Language
    email: str | None = None
    phone: str | None = None
    consents: dict[str, bool] = field(default_factory=dict)

    def contact_flags(self) -> dict[str, bool]:
        """The channel flags the domain's channel choice reads (``domain.channels.DebtorContact``)."""
        return {
            **{k: bool(self.consents.get(k, False)) for k in PAYMENT_CONSENTS},
            "digital_mailbox": self.mailbox.digital,
            "email": self.email is not None,
            "has_postal_address": self.address is not None,
        }

    def to_json(self) -> bytes:
        doc = asdict(self)
        doc["address"] = None if self.address is None else {**asdict(self.address), "lines": list(self.address.lines)}
        return json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Person:
        doc = json.loads(raw)
        address = doc["address"]
        return cls(
            national_id=doc["national_id"],
            kind=doc["kind"],
            jurisdiction=doc["jurisdiction"],
            name=doc["name"],
            address=None if address is None else PostalAddress(tuple(address["lines"]), **_without(address, "lines")),
            mailbox=Mailbox(doc["mailbox"]),
            language=Language(doc["language"]),
            email=doc.get("email"),
            phone=doc.get("phone"),
            consents=dict(doc.get("consents") or {}),
        )


def _without(d: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != key}


def parse_person(raw: Mapping[str, Any], *, allow_synthetic: bool = False) -> Person:
    """Check a registration (JSON/YAML shaped) and return the Person; ``InvalidPersonalData`` otherwise.

    Fields: ``national_id``, ``kind`` (person | organisation), ``jurisdiction`` (NO | SE), ``name``,
    ``address`` ({lines, postcode, city, country}), ``mailbox`` (reserved | digipost | eboks | kivra |
    none), ``language`` (nb | sv | en; default by jurisdiction), ``email``, ``phone``, ``consents``.
    """
    known = {"national_id", "kind", "jurisdiction", "name", "address", "mailbox", "language", "email", "phone"}
    unknown = set(raw) - known - {"consents"}
    if unknown:
        raise InvalidPersonalData(sorted(unknown)[0], "unknown field")
    jurisdiction = _text(raw, "jurisdiction", 2)
    if jurisdiction not in ("NO", "SE"):
        raise InvalidPersonalData("jurisdiction", "must be NO or SE")
    kind = _text(raw, "kind", 20)
    if kind not in ("person", "organisation"):
        raise InvalidPersonalData("kind", "must be person or organisation")
    number = raw.get("national_id")
    if not isinstance(number, str) or not number.strip():
        raise InvalidPersonalData("national_id", "required")
    try:
        compact = validate_identity(number, jurisdiction=jurisdiction, kind=kind, allow_synthetic=allow_synthetic)
    except InvalidIdentity as e:
        raise InvalidPersonalData("national_id", e.rule) from None
    name = _text(raw, "name", 200)
    address = _address(raw.get("address"), jurisdiction)
    try:
        mailbox = Mailbox(raw.get("mailbox", "none"))
    except ValueError:
        raise InvalidPersonalData("mailbox", f"must be one of {', '.join(m.value for m in Mailbox)}") from None
    if mailbox == Mailbox.KIVRA and jurisdiction != "SE" or mailbox == Mailbox.DIGIPOST and jurisdiction != "NO":
        raise InvalidPersonalData("mailbox", f"{mailbox.value} is not a {jurisdiction} digital mailbox")
    try:
        language = Language(raw.get("language") or ("nb" if jurisdiction == "NO" else "sv"))
    except ValueError:
        raise InvalidPersonalData("language", "must be nb, sv or en") from None
    email = _optional(raw, "email", EMAIL, "not an e-mail address")
    phone = _optional(raw, "phone", PHONE, "digits, spaces and a leading + only")
    consents = raw.get("consents") or {}
    if not isinstance(consents, Mapping) or set(consents) - set(PAYMENT_CONSENTS):
        raise InvalidPersonalData("consents", f"only {', '.join(PAYMENT_CONSENTS)}")
    if not all(isinstance(v, bool) for v in consents.values()):
        raise InvalidPersonalData("consents", "true or false")
    if address is None and not mailbox.digital:
        raise InvalidPersonalData("address", "required when the debtor has no digital mailbox (notices go by post)")
    return Person(compact, kind, jurisdiction, name, address, mailbox, language, email, phone, dict(consents))


def _text(raw: Mapping[str, Any], name: str, limit: int) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidPersonalData(name, "required")
    value = " ".join(value.split())
    if len(value) > limit:
        raise InvalidPersonalData(name, f"at most {limit} characters")
    return value


def _optional(raw: Mapping[str, Any], name: str, pattern: re.Pattern[str], rule: str) -> str | None:
    value = raw.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value.strip()):
        raise InvalidPersonalData(name, rule)
    return value.strip()


def _address(raw: Any, jurisdiction: str) -> PostalAddress | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InvalidPersonalData("address", "lines, postcode, city and country")
    lines = raw.get("lines")
    if (
        not isinstance(lines, list)
        or not 1 <= len(lines) <= 3
        or not all(isinstance(x, str) and x.strip() and len(x) <= 60 for x in lines)
    ):
        raise InvalidPersonalData("address.lines", "one to three lines of at most 60 characters")
    country = str(raw.get("country") or jurisdiction).upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise InvalidPersonalData("address.country", "a two-letter country code")
    postcode = str(raw.get("postcode") or "").strip()
    if country in POSTCODE and not POSTCODE[country].fullmatch(postcode):
        raise InvalidPersonalData("address.postcode", f"not a {country} postcode")
    city = _text(raw, "city", 60)
    return PostalAddress(tuple(" ".join(x.split()) for x in lines), postcode, city, country)
