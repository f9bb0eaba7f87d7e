"""Choosing the delivery channel by the municipality's priority, with the limits on what each may carry."""

from __future__ import annotations

import pytest

from domain.channels import (
    DEFAULT_PRIORITY,
    LEGALLY_REQUIRED_NOTICES,
    Channel,
    ChannelChoice,
    DebtorContact,
    NoDeliveryChannel,
    choose_channel,
)

EVERYTHING = DebtorContact(avtalegiro_consent=True, efaktura_consent=True, vipps=True, digital_mailbox=True, email=True)


def test_the_default_priority_is_the_municipal_order() -> None:
    assert DEFAULT_PRIORITY == (
        Channel.AVTALEGIRO,
        Channel.EFAKTURA,
        Channel.VIPPS,
        Channel.DIGITAL_MAILBOX,
        Channel.EMAIL,
        Channel.PAPER,
    )


def test_an_invoice_goes_by_avtalegiro_when_the_debtor_has_consented() -> None:
    assert choose_channel(EVERYTHING, document="invoice") == ChannelChoice(Channel.AVTALEGIRO, "priority 1: avtalegiro")


def test_an_invoice_goes_by_the_first_channel_the_debtor_has() -> None:
    contact = DebtorContact(vipps=True, email=True)
    assert choose_channel(contact, document="invoice") == ChannelChoice(Channel.VIPPS, "priority 3: vipps")


def test_an_invoice_to_a_debtor_with_nothing_digital_goes_on_paper() -> None:
    assert choose_channel(DebtorContact(), document="invoice") == ChannelChoice(Channel.PAPER, "priority 6: paper")


def test_a_purring_goes_by_efaktura_but_not_by_avtalegiro() -> None:
    choice = choose_channel(EVERYTHING, document="purring")
    assert choice == ChannelChoice(Channel.EFAKTURA, "priority 2: efaktura; purring may not go by avtalegiro")


def test_a_swedish_paminnelse_may_go_by_email() -> None:
    contact = DebtorContact(email=True)
    assert choose_channel(contact, document="paminnelse").channel == Channel.EMAIL


@pytest.mark.parametrize("notice", sorted(LEGALLY_REQUIRED_NOTICES))
def test_a_legally_required_notice_goes_by_digital_mailbox_before_payment_channels(notice: str) -> None:
    choice = choose_channel(EVERYTHING, document=notice)
    assert choice == ChannelChoice(
        Channel.DIGITAL_MAILBOX,
        "priority 4: digital_mailbox; legally required notice may not go by avtalegiro, efaktura, vipps",
    )


def test_an_inkassovarsel_to_a_debtor_with_efaktura_and_email_goes_on_paper() -> None:
    contact = DebtorContact(efaktura_consent=True, email=True)
    choice = choose_channel(contact, document="inkassovarsel")
    assert choice == ChannelChoice(
        Channel.PAPER, "priority 6: paper; legally required notice may not go by efaktura, email"
    )


def test_an_inkassovarsel_without_digital_mailbox_or_postal_address_cannot_be_sent() -> None:
    contact = DebtorContact(efaktura_consent=True, has_postal_address=False)
    with pytest.raises(NoDeliveryChannel, match="inkassovarsel: the debtor has efaktura and no postal address"):
        choose_channel(contact, document="inkassovarsel")


def test_a_debtor_with_no_channel_at_all_cannot_be_sent_an_invoice() -> None:
    with pytest.raises(NoDeliveryChannel, match="the debtor has none and no postal address"):
        choose_channel(DebtorContact(has_postal_address=False), document="invoice")


def test_a_municipality_may_put_digital_mailbox_before_vipps() -> None:
    gausdal = (Channel.EFAKTURA, Channel.AVTALEGIRO, Channel.DIGITAL_MAILBOX, Channel.VIPPS, Channel.PAPER)
    contact = DebtorContact(vipps=True, digital_mailbox=True)
    assert choose_channel(contact, document="invoice", priority=gausdal) == ChannelChoice(
        Channel.DIGITAL_MAILBOX, "priority 3: digital_mailbox"
    )


def test_a_channel_left_out_of_the_priority_is_never_used() -> None:
    contact = DebtorContact(email=True, has_postal_address=False)
    with pytest.raises(NoDeliveryChannel):
        choose_channel(contact, document="invoice", priority=(Channel.DIGITAL_MAILBOX, Channel.PAPER))


def test_an_unknown_document_is_refused() -> None:
    with pytest.raises(ValueError, match="document: unknown kind 'newsletter'"):
        choose_channel(EVERYTHING, document="newsletter")


@pytest.mark.parametrize("priority", [(), (Channel.PAPER, Channel.EMAIL, Channel.PAPER)])
def test_a_priority_lists_each_channel_at_most_once_and_is_not_empty(priority: tuple[Channel, ...]) -> None:
    with pytest.raises(ValueError, match="priority"):
        choose_channel(EVERYTHING, document="invoice", priority=priority)


def test_channel_values_are_the_names_recorded_in_events() -> None:
    assert [channel.value for channel in Channel] == [
        "avtalegiro",
        "efaktura",
        "vipps",
        "digital_mailbox",
        "email",
        "paper",
    ]
