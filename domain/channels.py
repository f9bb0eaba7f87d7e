"""The channel a document goes to a debtor by: the first one in the municipality's priority the debtor has.

Municipalities look the debtor up in national registers before each dispatch and use, in order,
AvtaleGiro, eFaktura, Vipps, digital mailbox (Digipost/e-Boks), e-mail, paper (rules.md A8). Swedish
municipalities fit the same generic channels: Autogiro, e-faktura, Kivra as digital mailbox.

Two limits on what a channel may carry:

- a legally required notice (NO inkassovarsel, betalingsoppfordring, tvangsfullbyrdelsesloven § 4-18
  varsel; SE inkassokrav) must reach the debtor "på betryggende måte" (inkassoloven § 3a): digital
  mailbox or paper only; eFaktura and Vipps are payment channels (rules.md A8, confidence L);
- AvtaleGiro is a direct-debit agreement: it carries invoices, not reminders about a debit that failed.

The choice and its reason go into the event, so a replay never repeats the register look-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    AVTALEGIRO = "avtalegiro"
    EFAKTURA = "efaktura"
    VIPPS = "vipps"
    DIGITAL_MAILBOX = "digital_mailbox"
    EMAIL = "email"
    PAPER = "paper"


DEFAULT_PRIORITY: tuple[Channel, ...] = tuple(Channel)
INVOICE = "invoice"
PLAIN_DOCUMENTS = frozenset({INVOICE, "purring", "paminnelse"})
LEGALLY_REQUIRED_NOTICES = frozenset(
    {"inkassovarsel", "betalingsoppfordring", "varsel_4_18", "inkassokrav", "avstangningsvarsel"}
)
NOTICE_CHANNELS = frozenset({Channel.DIGITAL_MAILBOX, Channel.PAPER})


@dataclass(frozen=True)
class DebtorContact:
    """What the registers say the debtor can receive by (consents, accounts, addresses)."""

    avtalegiro_consent: bool = False
    efaktura_consent: bool = False
    vipps: bool = False
    digital_mailbox: bool = False
    email: bool = False
    has_postal_address: bool = True

    def has(self, channel: Channel) -> bool:
        return {
            Channel.AVTALEGIRO: self.avtalegiro_consent,
            Channel.EFAKTURA: self.efaktura_consent,
            Channel.VIPPS: self.vipps,
            Channel.DIGITAL_MAILBOX: self.digital_mailbox,
            Channel.EMAIL: self.email,
            Channel.PAPER: self.has_postal_address,
        }[Channel(channel)]


@dataclass(frozen=True)
class ChannelChoice:
    channel: Channel
    reason: str


class NoDeliveryChannel(ValueError):
    """The debtor has no channel that may carry the document: find an address before sending."""


def choose_channel(
    contact: DebtorContact, *, document: str, priority: tuple[Channel, ...] = DEFAULT_PRIORITY
) -> ChannelChoice:
    """The first channel in `priority` the debtor has and that may carry `document`, with its reason."""
    _require_known(document, priority)
    passed_over: list[Channel] = []
    for rank, channel in enumerate(map(Channel, priority), start=1):
        if not contact.has(channel):
            continue
        if not may_carry(channel, document):
            passed_over.append(channel)
            continue
        reason = f"priority {rank}: {channel}"
        if passed_over:
            reason += f"; {_limit(document)} may not go by {', '.join(passed_over)}"
        return ChannelChoice(channel, reason)
    has = [channel for channel in Channel if contact.has(channel)]
    raise NoDeliveryChannel(
        f"no delivery channel for {document}: the debtor has {', '.join(has) or 'none'}"
        f"{'' if contact.has_postal_address else ' and no postal address'}"
    )


def may_carry(channel: Channel, document: str) -> bool:
    if document in LEGALLY_REQUIRED_NOTICES:
        return channel in NOTICE_CHANNELS
    return channel != Channel.AVTALEGIRO or document == INVOICE


def _limit(document: str) -> str:
    return "legally required notice" if document in LEGALLY_REQUIRED_NOTICES else document


def _require_known(document: str, priority: tuple[Channel, ...]) -> None:
    if document not in PLAIN_DOCUMENTS | LEGALLY_REQUIRED_NOTICES:
        raise ValueError(f"document: unknown kind {document!r}")
    if not priority or len(set(priority)) != len(priority):
        raise ValueError("priority: at least one channel, each at most once")
    for channel in priority:
        Channel(channel)
