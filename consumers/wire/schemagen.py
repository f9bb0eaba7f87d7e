"""Generates the Avro schemas of ``schemas/`` from the domain event classes.

The committed ``.avsc`` files are the contract with every consumer; this module only keeps them in
step with the event classes, one schema per entry of ``domain.catalogue.EVENTS``. The field types
follow ``consumers.wire.envelope`` (which maps the values); the documentation of every record and
field is written here.

    python -m consumers.wire.schemagen            # (re)write schemas/<Event>.avsc
    python -m consumers.wire.schemagen --check    # exit 1, listing the differences, when they are stale
    python -m consumers.wire.schemagen --release  # copy each changed schema to schemas/history/<Event>/vN.avsc

Releasing a changed schema (ADR 0002): make ``python -m consumers.wire.compat`` pass, then ``--release``.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from consumers.wire.envelope import (
    CONTACT_FLAGS,
    ENVELOPE_FIELDS,
    MONEY_COMPONENTS,
    NAMESPACE,
    RETIRED_FIELDS,
    RETIRED_NULLABLE,
    EventType,
    FieldSpec,
    Kind,
    event_types,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMAS_DIR = REPO_ROOT / "schemas"

DATE: Mapping[str, str] = {"type": "int", "logicalType": "date"}
UUID_STRING: Mapping[str, str] = {"type": "string", "logicalType": "uuid"}
TIMESTAMP_MICROS: Mapping[str, str] = {"type": "long", "logicalType": "timestamp-micros"}

ENVELOPE: Mapping[str, tuple[Any, str]] = {
    "event_id": (
        UUID_STRING,
        "Stable id of this event: UUIDv5 of case_id and aggregate_version. The same every time the event is "
        "published, so a consumer drops a copy delivered again (delivery is at-least-once).",
    ),
    "event_type": (
        "string",
        'Event type, the simple name of this schema (e.g. "ClaimNoticeSent"): the aggregate (Claim, Creditor, '
        "Debtor) followed by the event. Also sent as the event-type Kafka header.",
    ),
    "case_id": (
        "string",
        "Id (UUID) of the aggregate the event belongs to. For claim events the collection case: one claim "
        "(krav/fordran) is one case. The Kafka key, so one case's events stay in order on one partition.",
    ),
    "creditor_id": (
        ["null", "string"],
        'The creditor municipality\'s four-digit municipality number (kommunenummer/kommunkod), e.g. "0301". '
        "Null for debtor events: a debtor belongs to a collection office, not to one municipality.",
    ),
    "debtor_id": (
        ["null", "string"],
        "Opaque id of the debtor: the debtor aggregate's id, a keyed hash that is no national id, name or "
        "address. Null for creditor events.",
    ),
    "aggregate_version": (
        "long",
        "Version of the aggregate after this event, 1 for the event that created it. A case's events come in "
        "increasing version.",
    ),
    "notification_position": (
        "long",
        "Position of the event in the event store's notification log (its notification id): one order over all "
        "aggregates, from which the publisher resumes after a crash.",
    ),
    "effective_date": (
        DATE,
        "Date the fact took effect: the day a payment was ordered, an objection received, a judgment decided, "
        "the debtor died. Before recorded_date when a fact is registered late; otherwise the same day.",
    ),
    "recorded_date": (
        DATE,
        "Business date the fact was recorded on (the business clock: the date the command was given for).",
    ),
    "recorded_at": (
        TIMESTAMP_MICROS,
        "Wall-clock time the event was created, in microseconds since the Unix epoch (UTC).",
    ),
    "rule_version": (
        "string",
        "Version of the legal rules that decided the event: jurisdiction and a digest of the dated parameter "
        'files, e.g. "no-2335df492a0d". Empty ("") for creditor and debtor events, which no rule decides.',
    ),
    "currency": (
        ["null", "string"],
        "ISO 4217 code of every amount in the event: NOK (øre) or SEK (öre). Null for creditor and debtor "
        "events, which carry no amounts.",
    ),
}

# --- documentation of each event ----------------------------------------------------------------

RECORD_DOCS: Mapping[str, str] = {
    "ClaimInvoiced": (
        "A municipal invoice was registered as a claim (krav/fordran), which opens its collection case. Records "
        "the limitation period (foreldelsesfrist/preskriptionstid) the rules gave it and the channel of the invoice."
    ),
    "ClaimCreditNoteIssued": (
        "The creditor credited part of the claim's principal (kreditnota/kreditfaktura). The interest that accrued "
        "on the credited part is taken back; payments beyond what is still owed move to other components or to "
        "the surplus."
    ),
    "ClaimPaymentRegistered": (
        "A payment from the debtor was registered and allocated over the claim's components: costs, fees, "
        "interest, then principal, or principal first when the debtor designated it."
    ),
    "ClaimNoticeSent": (
        "A collection notice was sent to the debtor with its deadline and the fee charged: NO purring, "
        "inkassovarsel, betalingsoppfordring or varsel etter tvangsfullbyrdelsesloven § 4-18; SE påminnelse or "
        "inkassokrav."
    ),
    "ClaimEnforcementRequested": (
        "A legal step to enforce the claim was taken, with the court or enforcement cost it adds: NO forliksklage, "
        "utleggsbegjæring, utleggstrekk or utleggsforretning (the last two by the municipality as særnamsmann); "
        "SE betalningsföreläggande or verkställighet."
    ),
    "ClaimLimitationInterrupted": (
        "The limitation period was interrupted (NO foreldelse avbrutt, SE preskriptionsavbrott) by an "
        "acknowledgement, a payment, a written demand, a legal step or a judgment: a new period runs from "
        "effective_date."
    ),
    "ClaimObjectionRegistered": (
        "The debtor objected to the claim (NO innsigelse, SE invändning/bestridande): out-of-court collection "
        "pauses until the objection is resolved. effective_date is the day it was received."
    ),
    "ClaimObjectionResolved": "The creditor resolved the pending objection to the claim.",
    "ClaimDeferralGranted": (
        "The creditor granted a deferral of payment (NO betalingsutsettelse, SE anstånd): no collection step until "
        "it ends."
    ),
    "ClaimPaymentPlanAgreed": (
        "A payment plan (NO nedbetalingsplan, SE avbetalningsplan) was agreed: collection pauses while its "
        "instalments are paid on time."
    ),
    "ClaimPaymentPlanBreached": (
        "An instalment of the payment plan fell due without enough paid: the plan is breached and collection may "
        "resume."
    ),
    "ClaimJudgmentRegistered": (
        "A judgment or other enforceable decision on the claim was registered (NO dom, forliksrådsdom; SE utslag, "
        "dom); effective_date is the day it was decided. A longer limitation period follows."
    ),
    "ClaimReinstatementApplied": (
        "Sweden: the debtor applied for återvinning within one month of the utslag (lag (1990:746) om "
        "betalningsföreläggande 44 §). The utslag is set aside and the case goes to the district court as a "
        "disputed claim."
    ),
    "ClaimDebtorDeathNoted": (
        "The case noted that the debtor died: no notices or enforcement to the deceased; the claim is to be "
        "reported to the estate (dødsbo/dödsbo). effective_date is the date of death."
    ),
    "ClaimEstateDeadlineNoted": (
        "A call to the creditors of the deceased debtor's estate (NO proklama, SE kallelse på okända borgenärer) "
        "was published: the claim must be reported by the deadline. effective_date is the publication date."
    ),
    "ClaimReportedToEstate": "The claim was reported (NO meldt, SE anmäld) to the deceased debtor's estate.",
    "ClaimCostsWaived": (
        "The good-collection-practice audit (NO god inkassoskikk, SE god inkassosed) found fees or costs that "
        "cannot be recovered, e.g. charged while an objection was pending or maintained: they are taken off the "
        "claim, in the same save as the command that revealed them."
    ),
    "ClaimWrittenDown": (
        "Part of the principal was given up from this day (NO ettergivelse, SE eftergift): unlike a credit note it "
        "is not retroactive, so interest until this day stays owed. Not the write-down in the accounts "
        "(ClaimWrittenDownInAccounts), after which the debtor still owes everything."
    ),
    "ClaimWrittenDownInAccounts": (
        "The claim was written down in the creditor's accounts (NO nedskrivning, SE nedskrivning / osäker fordran): "
        "the debtor still owes the balance and the claim stays open under long-term monitoring (SE "
        "långtidsbevakning): from now on only steps that interrupt limitation, and payments, are allowed."
    ),
    "ClaimDuePostponed": (
        "The due date of an unclear invoice was moved (SE uppskov): interest and every deadline count from the new "
        "due date, so the claim's money is re-settled from it. The limitation date does not move."
    ),
    "ClaimServiceSuspended": (
        "Sweden: a service was stopped for non-payment — the water supply shut off after an avstängningsvarsel "
        "(vattentjänstlagen 43 §; the creditor's taxa fee for the visit is a cost of the claim) or a childcare place "
        "ended (the creditor's guidelines)."
    ),
    "ClaimWrittenOff": (
        "The claim was written off (NO avskrevet, SE avskriven) and closed. The interest accrued through the "
        "write-off date is recorded first."
    ),
    "ClaimComplaintFiled": (
        "A complaint about how the claim was collected was received (effective_date is the day it was received); "
        "the case trail is what the complaints board reads."
    ),
    "ClaimComplaintDecided": "The complaint about how the claim was collected was decided.",
    "CreditorRegistered": (
        "A municipality was registered as a creditor collecting its own claims (egeninkasso), with its collection "
        "policy and its KID/OCR scheme."
    ),
    "CreditorPolicyChanged": "The creditor's collection policy was replaced; later steps follow the new one.",
    "DebtorRegistered": (
        "A debtor was registered with a collection office. The event holds no personal data (national id, name, "
        "address): only the office's reference, an opaque id and which channels the debtor can be reached by."
    ),
    "DebtorClaimAttached": (
        "A claim was attached to the debtor, so the debtor's claims from all municipalities of the office meet in "
        "one place."
    ),
    "DebtorDied": "The debtor was registered as deceased; effective_date is the date of death.",
    "SuspenseOpened": (
        "A creditor's suspense account was opened (NO uidentifiserte innbetalinger, SE oidentifierade "
        "inbetalningar): where money waits whose payment reference matches no claim. case_id is the account's id."
    ),
    "SuspensePaymentReceived": (
        "Money came in with a payment reference no claim of the creditor carries; it is held in suspense. "
        "effective_date is the day the payer's bank received the order."
    ),
    "SuspensePaymentAllocated": (
        "A caseworker placed money held in suspense on a claim, where it was registered as a payment "
        "(ClaimPaymentRegistered with source suspense) ordered the day the payer ordered it."
    ),
    "PaymentReferenceAssigned": (
        "A payment reference (NO KID, SE OCR-nummer) was assigned to a claim: the creditor's index from reference "
        "to claim, one aggregate per reference, so no two claims of a creditor can carry the same one. case_id is "
        "the index entry's id, not the claim's (see claim_id)."
    ),
    "DebtorProklamaPublished": (
        "A call to the creditors of the deceased debtor's estate (NO proklama, SE kallelse på okända borgenärer) "
        "was published; effective_date is the publication date. The debtor's claims note the deadline."
    ),
    "ClaimRefundRequested": (
        "Part of the claim's surplus (money received beyond what was owed) was reserved for a refund to the payer "
        "(see RefundRequested with the same refund_id)."
    ),
    "ClaimRefundCancelled": (
        "The refund of part of the claim's surplus was rejected: the money is surplus to refund again."
    ),
    "ClaimSurplusRefunded": (
        "Surplus of the claim was paid back to the payer in a credit-transfer file (pain.001): money out of the "
        "creditor's account."
    ),
    "SuspenseRefundRequested": (
        "A payment held in suspense that belongs to no claim was reserved for a refund to the payer; it can no "
        "longer be placed on a claim."
    ),
    "SuspenseRefundCancelled": (
        "The refund of a payment in suspense was rejected: the payment is held in suspense again."
    ),
    "SuspensePaymentRefunded": (
        "A payment held in suspense was paid back to the payer in a credit-transfer file (pain.001): it leaves "
        "suspense and the creditor's account."
    ),
    "BankFileOpened": (
        "The import of a bank file (Nets OCR giro, ISO 20022 camt.054, Bankgirot BgMax) began: the file's SHA-256, "
        "format, the office accounts it pays into, the creditors they belong to and the file's own count and total "
        "of credit transactions. case_id is the import's id (one per file's bytes)."
    ),
    "BankFileBatchRegistered": (
        "A batch of the bank file's transactions was registered, in the same transaction as their payments: how "
        "many of the file's transactions are done and how the batch's landed (matched to a claim, unmatched into "
        "suspense, duplicates of transactions registered before). The import's checkpoint: a restarted import "
        "goes on after position."
    ),
    "BankFileImported": (
        "Every transaction of the bank file is registered: the file's totals by outcome; the file total equals "
        "matched + unmatched + duplicates."
    ),
    "RefundRequested": (
        "A refund to a payer was requested: a claim's surplus or a payment in suspense that belongs to no claim. "
        "The money is reserved at its source (ClaimRefundRequested / SuspenseRefundRequested). The payee's name "
        "and account are personal data kept outside the event stream (payee_key says where)."
    ),
    "RefundApproved": "A second person approved the refund (four eyes: never the one who requested it).",
    "RefundRejected": "The refund will not be paid; the money stays where it was.",
    "RefundPaidOut": (
        "The refund was handed to the bank in an ISO 20022 pain.001 credit-transfer file with message_id; exporting "
        "the same refund again pays nothing twice."
    ),
}

_MONEY = "in øre/öre (minor units of currency)"

FIELD_DOCS: Mapping[str, str] = {
    "command_id": (
        "Id of the command that caused the event. Repeating a command with the same id changes nothing "
        "(idempotency); the events one command causes share it."
    ),
    "interest_accrued": (
        "Late-payment interest (NO forsinkelsesrente, SE dröjsmålsränta) accrued on the claim in total through "
        "interest_through, exact and unrounded, in kroner/kronor as a plain decimal string (e.g. "
        '"8.133561643835616438356164384"). A string, not whole øre like the other amounts: interest is rounded '
        "only in total, and later events build on this exact value, so a replay must get every digit back."
    ),
    "interest_through": "Last day included in interest_accrued.",
    "interest_rates": (
        "The late-payment interest rates the settlement used, one entry per stretch of days: "
        '"<first day>..<last day> <percent a year>%" (NO forsinkelsesrente, SE dröjsmålsränta).'
    ),
    "jurisdiction": "NO or SE: the country whose collection law applies.",
    "legal_basis": (
        "The statute and sections the step rests on, as cited to the debtor and the complaints board, e.g. "
        '"inkassoloven § 9; inkassoforskriften § 1-2".'
    ),
    "warnings": (
        "Warnings from the rules when the event was decided, e.g. a parameter value used after the date it is "
        "confirmed until. Empty when there were none."
    ),
    "stage": (
        "Collection stage of the case after the event: invoiced, reminded, warned, demanded, enforcement or judgment."
    ),
    "channel": (
        "Channel the document goes to the debtor by: avtalegiro, efaktura, vipps, digital_mailbox (Digipost, "
        "e-Boks; SE Kivra), email or paper."
    ),
    "channel_reason": (
        "Why that channel: its rank in the municipality's priority and the channels passed over. Recorded so a "
        "replay never repeats the register look-up."
    ),
    "limitation_date": (
        "Last day of the limitation period (NO foreldelsesfrist, SE preskriptionstid): after it the claim is "
        "time-barred unless the period is interrupted."
    ),
    "died": "Date the debtor died.",
    "published": "Date the call to the estate's creditors (proklama/kallelse på okända borgenärer) was published.",
    "report_deadline": (
        "Last day for creditors to report claims to the estate; an unsecured claim not reported by then is precluded."
    ),
    "policy": (
        "The collection policy as canonical JSON text (sorted keys): the notices and enforcement steps and when "
        "they are due, whether fees are charged, the smallest amount worth a notice, the enforcement routes. JSON, "
        "so the policy can grow without a schema change."
    ),
    "kind": "person or organisation. Consumer rules (e.g. the Swedish consumer limitation period) apply to persons.",
}

_NOTE = (
    " or note: a reason a person wrote, which may name people or health; it stays in the event store and the case "
    "file, never on the stream (ADR 0023)."
)
_RETIRED_REFERENCE = (
    "Retired (ADR 0028): always empty. Events published before it carried the payer's reference here in clear; "
    "see reference_hmac."
)
RETIRED_FIELD_DOCS: Mapping[tuple[str, str], str] = {
    ("SuspensePaymentReceived", "reference"): _RETIRED_REFERENCE,
    ("SuspensePaymentAllocated", "reference"): _RETIRED_REFERENCE,
    ("RefundRequested", "reference"): _RETIRED_REFERENCE,
    ("ClaimPaymentRegistered", "reference"): (
        "Retired (ADR 0028): always null. Events published before it carried the payer's reference here in clear; "
        "see reference_hmac."
    ),
    ("ClaimObjectionRegistered", "text_sha256"): (
        "Retired (ADR 0023): always empty. Events published before it carried the objection text's bare SHA-256 "
        "here; see text_hmac."
    ),
}
_FILE_DIGEST = "SHA-256 (hex) of the bank file the money came in; null when it did not come in a bank file."
_FILE_FORMAT = "Format of that bank file: ocr (Nets OCR giro), camt054 (ISO 20022) or bgmax (Bankgirot); else null."
_TRANSACTION = (
    "The bank's id of the transaction in that file (also the command id, so the same transaction imported "
    "again changes nothing); else null."
)
_REFUND_ID = "Id of the refund (the case_id of its RefundRequested)."
_OUTCOME_DOCS: Mapping[str, str] = {
    "matched": "Credit transactions matched by their structured reference to a claim and registered as payments.",
    "unmatched": "Credit transactions whose reference matched no claim: held in suspense.",
    "duplicates": "Credit transactions registered before (the same transaction id): nothing changed.",
    "matched_amount": f"Sum of the matched transactions, {_MONEY}.",
    "unmatched_amount": f"Sum of the unmatched transactions, {_MONEY}.",
    "duplicate_amount": f"Sum of the duplicate transactions, {_MONEY}.",
    "surplus_amount": f"Part of the matched amount beyond the claims' balances (owed back to the payers), {_MONEY}.",
}

EVENT_FIELD_DOCS: Mapping[tuple[str, str], str] = {
    **{
        (event, field): doc
        for event in ("BankFileBatchRegistered", "BankFileImported")
        for field, doc in _OUTCOME_DOCS.items()
    },
    **{
        (event, field): doc
        for event in ("ClaimPaymentRegistered", "SuspensePaymentReceived")
        for field, doc in (("file_digest", _FILE_DIGEST), ("file_format", _FILE_FORMAT), ("transaction", _TRANSACTION))
    },
    **{
        (event, "refund_id"): _REFUND_ID
        for event in (
            "ClaimRefundRequested",
            "ClaimRefundCancelled",
            "ClaimSurplusRefunded",
            "SuspenseRefundRequested",
            "SuspenseRefundCancelled",
            "SuspensePaymentRefunded",
        )
    },
    ("ClaimRefundRequested", "amount"): f"Surplus reserved for the refund, {_MONEY}.",
    ("ClaimRefundCancelled", "amount"): f"Surplus released again, {_MONEY}.",
    ("ClaimSurplusRefunded", "amount"): f"Surplus paid back, {_MONEY}.",
    ("ClaimSurplusRefunded", "message_id"): "Message id (MsgId) of the pain.001 file the refund went to the bank in.",
    ("SuspenseRefundRequested", "item"): "Id of the item in suspense reserved (see SuspensePaymentReceived.item).",
    ("SuspenseRefundRequested", "amount"): f"Amount of the item, {_MONEY}.",
    ("SuspenseRefundCancelled", "item"): "Id of the item released (see SuspensePaymentReceived.item).",
    ("SuspensePaymentRefunded", "item"): "Id of the item paid back (see SuspensePaymentReceived.item).",
    ("SuspensePaymentRefunded", "amount"): f"Amount paid back, {_MONEY}.",
    (
        "SuspensePaymentRefunded",
        "message_id",
    ): "Message id (MsgId) of the pain.001 file the refund went to the bank in.",
    ("BankFileOpened", "digest"): "SHA-256 (hex) of the file's bytes: the same bytes are the same file.",
    ("BankFileOpened", "file_format"): "ocr (Nets OCR giro), camt054 (ISO 20022 camt.054) or bgmax (Bankgirot BgMax).",
    ("BankFileOpened", "format_version"): "The format's version as the file states it (camt.054 001.02 or 001.08, "
    "BgMax 01); empty when the format states none.",
    ("BankFileOpened", "accounts"): "The office's accounts the file pays into (account number, IBAN or bankgiro).",
    ("BankFileOpened", "creditors"): "Municipality numbers of the creditors those accounts belong to.",
    ("BankFileOpened", "transactions"): "Credit transactions in the file (debits and other entries not counted).",
    (
        "BankFileOpened",
        "total",
    ): f"Sum of the credit transactions, checked against the file's own control totals, {_MONEY}.",
    ("BankFileOpened", "size"): "Size of the file in bytes.",
    (
        "BankFileOpened",
        "imported_by",
    ): "Who imported the file: the person or service (no personal data beyond a login name).",
    ("BankFileBatchRegistered", "first"): "Index (0-based, in file order) of the batch's first transaction.",
    ("BankFileBatchRegistered", "position"): "Transactions of the file done after this batch.",
    (
        "RefundRequested",
        "number",
    ): "The refund's reference (pain.001 EndToEndId): RF- and the refund id's 32 hex digits.",
    ("RefundRequested", "source"): "surplus (money a claim received beyond what was owed) or suspense (a payment "
    "that belongs to no claim).",
    ("RefundRequested", "claim_id"): "Case id of the claim whose surplus is refunded; null for suspense.",
    ("RefundRequested", "invoice"): "Invoice number of that claim; null for suspense.",
    ("RefundRequested", "item"): "Id of the item in suspense refunded; null for surplus.",
    ("RefundRequested", "reference"): (
        "HMAC-SHA256 (hex) keyed by the office's digest key of the payer's KID / OCR reference (or text) of the "
        "money refunded: equal references give equal digests; the reference itself is not on the stream (ADR 0028)."
    ),
    ("RefundRequested", "amount"): f"Amount to pay back, {_MONEY}.",
    ("RefundRequested", "payee_key"): "Where the payee's name and account are kept, outside the event stream "
    '(e.g. "transaction:<bank transaction id>").',
    ("RefundRequested", "requested_by"): "Who requested the refund (a login name or the import's service name).",
    ("RefundRequested", "reason"): (
        "Why the money is paid back: surplus owed back, belongs to no claim, payment beyond the balance" + _NOTE
    ),
    ("RefundApproved", "approved_by"): "Who approved the refund: never the person who requested it.",
    ("RefundRejected", "rejected_by"): "Who rejected the refund.",
    ("RefundRejected", "reason"): "Why the refund is rejected: note" + _NOTE.removeprefix(" or note"),
    ("RefundPaidOut", "message_id"): "Message id (MsgId) of the pain.001 credit-transfer file.",
    ("RefundPaidOut", "amount"): f"Amount paid back, {_MONEY}.",
    ("RefundPaidOut", "execution_date"): "Requested execution date of the transfer (ReqdExctnDt).",
    ("RefundPaidOut", "exported_by"): "Who exported the file.",
    ("ClaimInvoiced", "invoice"): "The creditor's invoice number; with creditor_id it names the claim (natural key).",
    ("ClaimInvoiced", "claim_type"): (
        "Kind of municipal claim, e.g. barnehage, sfo, kommunale_avgifter, eiendomsskatt (NO) or barnomsorg, va, "
        "renhallning (SE). It decides lien security and the limitation period."
    ),
    ("ClaimInvoiced", "debtor_kind"): FIELD_DOCS["kind"],
    ("ClaimInvoiced", "amount"): f"Principal invoiced (NO hovedstol, SE kapitalbelopp), {_MONEY}.",
    ("ClaimInvoiced", "due"): "Due date of the invoice (NO forfallsdato, SE förfallodag).",
    ("ClaimInvoiced", "effective_due"): (
        "The due date as the law counts it: the next working day when due falls on a weekend or public holiday. "
        "Interest runs from the day after."
    ),
    ("ClaimInvoiced", "lien_secured"): (
        "True when a statutory lien secures the claim (NO legalpant for kommunale avgifter and eiendomsskatt); "
        "such a claim survives the estate's deadline."
    ),
    ("ClaimInvoiced", "kid"): "Payment reference the debtor pays with (NO KID, SE OCR number).",
    ("ClaimInvoiced", "limitation_years"): "Length of the limitation period in years.",
    ("ClaimInvoiced", "limitation_basis"): (
        'The statute the limitation period rests on, e.g. "foreldelsesloven §§ 2-3".'
    ),
    ("ClaimInvoiced", "arose"): (
        "Day the claim came into being (SE fordringens tillkomst: the end of the service period) where it differs "
        "from the due date; Swedish limitation runs from it (preskriptionslagen 2 §). Null in events recorded "
        "before version 2: then the due date."
    ),
    ("ClaimJudgmentRegistered", "served"): (
        "Day the judgment was served on the debtor (NO forkynt, SE delgiven). In Norway enforcement on it may be "
        "requested only after the compliance period, two weeks from service (tvisteloven § 19-7). Null in events "
        "recorded before version 2: then the day it was decided (effective_date)."
    ),
    ("ClaimCreditNoteIssued", "amount"): f"Principal credited, {_MONEY}.",
    ("ClaimCreditNoteIssued", "reason"): "Why the claim was credited: credit note, objection upheld" + _NOTE,
    ("ClaimWrittenDown", "amount"): f"Principal given up from this day (ettergivelse / eftergift), {_MONEY}.",
    (
        "ClaimWrittenDownInAccounts",
        "amount",
    ): f"Amount written down in the accounts, {_MONEY}; stays as it is when money comes in later.",
    ("ClaimWrittenDownInAccounts", "balance"): f"The claim's balance on the day, {_MONEY} (the debtor still owes it).",
    ("ClaimWrittenDownInAccounts", "reason"): "Why the claim was written down: a code of the domain" + _NOTE,
    ("ClaimDuePostponed", "previous_due"): "The due date before this uppskov.",
    ("ClaimDuePostponed", "due"): "The new due date (NO forfallsdato, SE förfallodag).",
    ("ClaimDuePostponed", "effective_due"): (
        "The new due date as the law counts it: the next working day when it falls on a weekend or public holiday "
        "(in Sweden also midsommarafton, julafton, nyårsafton). Interest runs from the day after."
    ),
    (
        "ClaimDuePostponed",
        "paid_after",
    ): "What has been paid to each part of the claim after the re-settlement, and the surplus.",
    ("ClaimServiceSuspended", "service"): "water (the supply shut off) or childcare (the place ended).",
    (
        "ClaimServiceSuspended",
        "cost",
    ): f"Cost added to the claim (the taxa's fee for the shut-off visit), {_MONEY}; 0 when none.",
    ("ClaimServiceSuspended", "cost_basis"): "How the cost was set, e.g. the creditor's taxa fee per visit.",
    ("ClaimNoticeSent", "carry_out_by"): (
        "For a notice announcing that a service will be stopped (SE avstangningsvarsel): the last day the creditor's "
        "own guidelines give for carrying it out; when it passes without the step the audit finds "
        "threat_not_carried_out. Null for other notices and in events recorded before version 2."
    ),
    ("ClaimWrittenDown", "reason"): "Why part of the principal was given up: a code of the domain" + _NOTE,
    ("ClaimWrittenDown", "paid_after"): (
        "What has been paid to each part of the claim after the write-down, and the surplus to refund."
    ),
    ("ClaimPaymentRegistered", "paid_after"): (
        "What has been paid to each part of the claim after this payment, and the surplus to refund: the claim "
        "re-settled in order of the days things took effect, so a payment registered late but ordered early "
        "is allocated as of its order day."
    ),
    ("ClaimCreditNoteIssued", "paid_after"): (
        "What has been paid towards each component of the claim after the credit note, and the surplus to refund: "
        "the account's paid amounts from now on."
    ),
    ("ClaimPaymentRegistered", "amount"): f"Amount paid, {_MONEY}.",
    ("ClaimPaymentRegistered", "ordered"): (
        "Date the debtor ordered the payment (NO betalingsdato, SE betalningsdag): it decides timeliness and ends "
        "the interest."
    ),
    ("ClaimPaymentRegistered", "designation"): (
        '"principal" when the debtor directed the payment to the principal; empty when not (then costs, fees, '
        "interest and principal are paid in that order)."
    ),
    ("ClaimPaymentRegistered", "allocation"): (
        "How this payment was split over the claim's components, and the part beyond the balance (surplus) to be "
        "refunded."
    ),
    ("ClaimNoticeSent", "notice"): (
        "Which notice: purring, inkassovarsel, betalingsoppfordring, varsel_4_18 (NO) or paminnelse, inkassokrav, "
        "avstangningsvarsel (SE: the water will be shut off; an inkassokrav in every respect)."
    ),
    ("ClaimNoticeSent", "deadline"): "Payment deadline the notice gives (NO betalingsfrist, SE betalningsfrist).",
    ("ClaimNoticeSent", "fee"): (
        f"Fee charged for the notice (NO purregebyr, inkassovarselgebyr; SE påminnelseavgift, inkassoavgift), "
        f"{_MONEY}; 0 when none may be charged."
    ),
    ("ClaimNoticeSent", "fee_reason"): (
        'How the fee was computed, or why none was charged, e.g. "0.05 × inkassosats 700 on 2025-02-14".'
    ),
    ("ClaimEnforcementRequested", "route"): (
        "The step: forliksklage, utleggsbegjaering, utleggstrekk, utleggsforretning (NO) or "
        "betalningsforelaggande, verkstallighet (SE)."
    ),
    ("ClaimEnforcementRequested", "cost"): (
        f"Cost the step adds to the claim (e.g. a court fee in multiples of the rettsgebyr; SE ansökningsavgift), "
        f"{_MONEY}; 0 when there is none."
    ),
    ("ClaimEnforcementRequested", "cost_basis"): 'How the cost was computed, e.g. "floor(1.10 × R 1314)".',
    ("ClaimEnforcementRequested", "request_invoices"): (
        "Every invoice one combined request covered (NO samlet begjæring, SE en ansökan): the request carries one "
        "court or enforcement fee, on the first claim listed. Null for a request on this claim alone and in events "
        "recorded before version 2."
    ),
    ("ClaimNoticeSent", "letter_invoices"): (
        "Every invoice one combined letter covered (samlet purring / inkassovarsel / betalingsoppfordring, "
        "påminnelse / inkassokrav): the letter carries one fee, on the first listed claim whose fee cap allowed it. "
        "Null for a letter about this claim alone and in events recorded before version 2."
    ),
    ("ClaimLimitationInterrupted", "ground"): (
        "What interrupted the period: payment, deferral_requested, payment_plan (acknowledgements), "
        "written_demand:<notice>, enforcement:<route> or judgment."
    ),
    ("ClaimLimitationInterrupted", "years"): "Length of the new limitation period in years.",
    ("ClaimLimitationInterrupted", "limitation_date"): "Last day of the limitation period after the interruption.",
    ("ClaimObjectionRegistered", "text"): (
        "HMAC-SHA256 (hex) of the objection text as the caseworker registered it, keyed by a key derived from the "
        "office's secret: equal texts give equal digests, and no dictionary reverses it. The text itself may name "
        "people or places, so it stays in the event store and the case file; the stream carries only its digest."
    ),
    ("ClaimObjectionResolved", "outcome"): (
        "upheld (the debtor is right: the claim is credited), maintained (the claim stands but is disputed: only "
        "the court route remains) or unfounded (collection resumes)."
    ),
    ("ClaimDeferralGranted", "until"): "Last day of the deferral.",
    ("ClaimDeferralGranted", "requested_by_debtor"): (
        "True when the debtor asked for the deferral: the request acknowledges the debt and may interrupt the "
        "limitation period."
    ),
    ("ClaimPaymentPlanAgreed", "installments"): "The instalments of the plan, in due-date order.",
    ("ClaimPaymentPlanAgreed", "paid_before"): (
        f"Total paid on the claim before the plan was agreed, {_MONEY}: payments beyond it count towards the "
        "instalments."
    ),
    ("ClaimPaymentPlanBreached", "missed_due"): "Due date of the first instalment that was not paid in full.",
    ("ClaimPaymentPlanBreached", "shortfall"): (
        f"How much was missing towards the instalments due by missed_due, {_MONEY}."
    ),
    ("ClaimCostsWaived", "items"): "The fees and costs waived, one entry per step that charged them.",
    ("ClaimCostsWaived", "fees"): f"Total of the notice fees waived, {_MONEY}.",
    ("ClaimCostsWaived", "costs"): f"Total of the enforcement and court costs waived, {_MONEY}.",
    ("ClaimCostsWaived", "paid_after"): (
        "What has been paid towards each component of the claim after the waiver, and the surplus to refund: "
        "what was paid to a waived fee or cost moves on to the other components."
    ),
    (
        "ClaimWrittenOff",
        "reason",
    ): "Why the claim was written off: time_barred, deceased, bankruptcy, uneconomic or other.",
    ("ClaimWrittenOff", "amount"): (f"Balance written off (principal, interest, fees and costs not paid), {_MONEY}."),
    ("ClaimComplaintDecided", "outcome"): "breach (good collection practice was breached) or no_breach.",
    ("CreditorRegistered", "name"): 'The municipality\'s name, e.g. "Oslo kommune" (an organisation, not a person).',
    ("CreditorRegistered", "office"): (
        "Municipality number of the collection office that serves the creditor (an inter-municipal office serves "
        "several); its own number when it collects alone."
    ),
    ("CreditorRegistered", "kid_algorithm"): "Check-digit algorithm of the creditor's KID/OCR numbers: MOD10 or MOD11.",
    ("CreditorRegistered", "kid_length"): "Length of the creditor's KID/OCR numbers in digits.",
    ("DebtorRegistered", "office"): "Municipality number of the collection office the debtor is registered with.",
    ("DebtorRegistered", "ref"): "The office's own reference for the debtor (customer number), not a national id.",
    ("DebtorRegistered", "opaque_id"): (
        "Keyed hash (HMAC-SHA256, 32 hex characters) of the debtor's national id, or of office and reference when "
        "none was given: matches one person across references without the number itself."
    ),
    ("DebtorRegistered", "contact"): (
        "Which channels the debtor can be reached by, as the registers said at registration; flags the "
        "registration did not give hold their defaults."
    ),
    ("DebtorClaimAttached", "claim_id"): "Case id of the claim attached (the case_id of that claim's events).",
    ("PaymentReferenceAssigned", "reference"): "The KID / OCR reference, digits with its check digit.",
    ("SuspensePaymentReceived", "item"): "Id of the item in suspense: the command id that received the money.",
    ("SuspensePaymentReceived", "reference"): (
        "HMAC-SHA256 (hex) keyed by the office's digest key of the payment reference the payer gave (matching no "
        "claim; it may be any text): equal references give equal digests, the text is not on the stream (ADR 0028)."
    ),
    ("SuspensePaymentReceived", "amount"): f"Amount received, {_MONEY}.",
    ("SuspensePaymentReceived", "ordered"): "Day the payer's bank received the payment order.",
    (
        "SuspensePaymentReceived",
        "source",
    ): 'Where the money came from: the bank file (e.g. "ocr", "camt054", "bgmax") or "manual".',
    ("SuspensePaymentAllocated", "item"): "Id of the item placed (see SuspensePaymentReceived.item).",
    ("SuspensePaymentAllocated", "reference"): (
        "HMAC-SHA256 (hex) keyed by the office's digest key of the payer's reference of the item placed (ADR 0028)."
    ),
    ("SuspensePaymentAllocated", "amount"): f"Amount placed on the claim, {_MONEY}.",
    ("SuspensePaymentAllocated", "claim_id"): "Case id of the claim the money was placed on.",
    ("SuspensePaymentAllocated", "invoice"): "The creditor's invoice number of that claim.",
    ("PaymentReferenceAssigned", "claim_id"): "Case id of the claim the reference identifies.",
    ("PaymentReferenceAssigned", "invoice"): "The creditor's invoice number of that claim.",
    ("PaymentReferenceAssigned", "check_digit"): "The check-digit algorithm the reference passes: MOD10 or MOD11.",
    ("PaymentReferenceAssigned", "printed"): (
        "True when the creditor's billing system printed the reference on the invoice; false when kravsak "
        "assigned it from the creditor's KID/OCR scheme."
    ),
    ("ClaimPaymentRegistered", "source"): (
        'How the money found the claim: "invoice" (registered against the invoice number), "reference" (matched '
        'by its KID / OCR reference, as from a bank file) or "suspense" (placed from the suspense account by a '
        "caseworker). Null in events recorded before version 2."
    ),
    ("ClaimPaymentRegistered", "reference"): (
        "HMAC-SHA256 (hex) keyed by the office's digest key of the KID / OCR reference (or text) the payer used, "
        "when the payment came by reference or from suspense; else null. The reference is not on the stream "
        "(ADR 0028)."
    ),
}

COMPONENTS_RECORD_DOC = "Amounts per component of the claim (costs, fees, interest, principal) and the surplus."
COMPONENT_DOCS: Mapping[str, str] = {
    "costs": f"Costs component (NO/SE kostnader: enforcement and court costs), {_MONEY}.",
    "fees": f"Fees component (NO gebyrer, SE avgifter: notice fees), {_MONEY}.",
    "interest": f"Interest component (late-payment interest, rounded to whole øre/öre), {_MONEY}.",
    "principal": f"Principal component (NO hovedstol, SE kapitalbelopp), {_MONEY}.",
    "surplus": f"Paid beyond everything owed, to be refunded to the debtor, {_MONEY}.",
}

CONTACT_DOCS: Mapping[str, str] = {
    "avtalegiro_consent": "Has a direct-debit agreement (NO AvtaleGiro, SE Autogiro).",
    "efaktura_consent": "Has accepted electronic invoices (NO eFaktura, SE e-faktura).",
    "vipps": "Can be reached in Vipps.",
    "digital_mailbox": "Has a digital mailbox (Digipost, e-Boks; SE Kivra).",
    "email": "Has a known e-mail address (the address itself is not in the event).",
    "has_postal_address": "Has a known postal address (the address itself is not in the event).",
}

INSTALLMENT_DOCS: Mapping[str, str] = {
    "record": "One instalment of the payment plan.",
    "due": "Date the instalment falls due.",
    "amount_minor": f"Amount of the instalment, {_MONEY}.",
}

WAIVED_ITEM_DOCS: Mapping[str, str] = {
    "record": "One fee or cost waived.",
    "command_id": "Command id of the step (notice or enforcement request) that charged it.",
    "kind": "fee (a notice fee) or cost (an enforcement or court cost).",
    "amount_minor": f"Amount waived, {_MONEY}.",
    "reason": "The audit finding that makes it unrecoverable.",
}


_DESCRIPTION = "Generates the Avro schemas of schemas/ from the domain event classes."


class SchemaGenError(RuntimeError):
    """An event type or field the generator cannot describe (no documentation for it, say)."""


# --- generation -------------------------------------------------------------------------------


def generate() -> dict[str, dict[str, Any]]:
    """Every event schema, by schema name, as the ``json.loads`` value of its file."""
    missing = sorted(set(event_types()) - set(RECORD_DOCS))
    if missing:
        raise SchemaGenError(f"no record documentation for {', '.join(missing)}: add it to RECORD_DOCS")
    return {name: event_schema(event_type) for name, event_type in sorted(event_types().items())}


def event_schema(event_type: EventType) -> dict[str, Any]:
    """The schema of one event type: the envelope fields, then the event's own."""
    fields = [_field(name, *ENVELOPE[name]) for name in ENVELOPE_FIELDS]
    fields += [_event_field(event_type, spec) for spec in event_type.fields]
    fields += [
        {"name": name, "type": ["null", "string"], "default": None, "doc": RETIRED_FIELD_DOCS[(event_type.name, name)]}
        if (event_type.name, name) in RETIRED_NULLABLE
        else {"name": name, "type": "string", "default": "", "doc": RETIRED_FIELD_DOCS[(event_type.name, name)]}
        for name in RETIRED_FIELDS.get(event_type.name, ())
    ]
    return {
        "type": "record",
        "name": event_type.name,
        "namespace": NAMESPACE,
        "doc": RECORD_DOCS[event_type.name],
        "fields": fields,
    }


def _field(name: str, avro_type: Any, doc: str) -> dict[str, Any]:
    field: dict[str, Any] = {"name": name, "type": _plain(avro_type)}
    if isinstance(avro_type, list) and avro_type[0] == "null":
        field["default"] = None
    field["doc"] = doc
    return field


def _plain(avro_type: Any) -> Any:
    if isinstance(avro_type, Mapping):
        return {k: _plain(v) for k, v in avro_type.items()}
    if isinstance(avro_type, list):
        return [_plain(v) for v in avro_type]
    return avro_type


def _event_field(event_type: EventType, spec: FieldSpec) -> dict[str, Any]:
    doc = EVENT_FIELD_DOCS.get((event_type.name, spec.attribute), FIELD_DOCS.get(spec.attribute))
    if doc is None:
        raise SchemaGenError(
            f"{event_type.name}.{spec.attribute}: no documentation; add it to EVENT_FIELD_DOCS or FIELD_DOCS"
        )
    avro_type = _avro_type(event_type, spec)
    if spec.kind is Kind.FREE_TEXT and spec.nullable:  # added by ADR 0028
        return {"name": spec.wire_name, "type": ["null", avro_type], "default": None, "doc": doc}
    if spec.kind is Kind.FREE_TEXT:  # added by ADR 0023: events written before it have no such field
        return {"name": spec.wire_name, "type": avro_type, "default": "", "doc": doc}
    return _field(spec.wire_name, ["null", avro_type] if spec.nullable else avro_type, doc)


def _avro_type(event_type: EventType, spec: FieldSpec) -> Any:
    kind = spec.kind
    simple: dict[Kind, Any] = {
        Kind.STRING: "string",
        Kind.LONG: "long",
        Kind.BOOLEAN: "boolean",
        Kind.DATE: DATE,
        Kind.UUID: UUID_STRING,
        Kind.MONEY: "long",
        Kind.EXACT_DECIMAL: "string",
        Kind.STRINGS: {"type": "array", "items": "string"},
        Kind.POLICY_JSON: "string",
        Kind.FREE_TEXT: "string",
        Kind.REASON: "string",
    }
    if kind in simple:
        return _plain(simple[kind])
    attribute = "".join(part.capitalize() for part in spec.attribute.split("_"))
    if kind is Kind.COMPONENTS:
        fields = [_field(f"{c}_minor", "long", COMPONENT_DOCS[c]) for c in MONEY_COMPONENTS]
        return _record(f"{event_type.name}{attribute}", COMPONENTS_RECORD_DOC, fields)
    if kind is Kind.CONTACT:
        fields = [_field(flag, "boolean", CONTACT_DOCS[flag]) for flag in CONTACT_FLAGS]
        return _record(f"{event_type.name}Contact", "Channels the debtor can be reached by.", fields)
    if kind is Kind.INSTALLMENTS:
        fields = [
            _field("due", DATE, INSTALLMENT_DOCS["due"]),
            _field("amount_minor", "long", INSTALLMENT_DOCS["amount_minor"]),
        ]
        return {"type": "array", "items": _record(f"{event_type.name}Installment", INSTALLMENT_DOCS["record"], fields)}
    if kind is Kind.WAIVED_ITEMS:
        fields = [
            _field("command_id", "string", WAIVED_ITEM_DOCS["command_id"]),
            _field("kind", "string", WAIVED_ITEM_DOCS["kind"]),
            _field("amount_minor", "long", WAIVED_ITEM_DOCS["amount_minor"]),
            _field("reason", "string", WAIVED_ITEM_DOCS["reason"]),
        ]
        return {"type": "array", "items": _record(f"{event_type.name}Item", WAIVED_ITEM_DOCS["record"], fields)}
    raise SchemaGenError(f"{event_type.name}.{spec.attribute}: no Avro type for {kind}")


def _record(name: str, doc: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "record", "name": name, "doc": doc, "fields": fields}


def render(schema: Mapping[str, Any]) -> str:
    """The text of a schema file: two-space indented JSON, UTF-8 as is, a final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


# --- files ------------------------------------------------------------------------------------


def expected_files(schemas_dir: Path = SCHEMAS_DIR) -> dict[Path, str]:
    """The current schema files as the generator writes them, by path."""
    return {schemas_dir / f"{name}.avsc": render(schema) for name, schema in generate().items()}


def check(schemas_dir: Path = SCHEMAS_DIR) -> list[str]:
    """The differences between the committed schema files and the generator's; empty when in step."""
    problems: list[str] = []
    expected = expected_files(schemas_dir)
    for path, text in expected.items():
        if not path.is_file():
            problems.append(f"{path}: missing (run python -m consumers.wire.schemagen)")
            continue
        committed = path.read_text(encoding="utf-8")
        if committed != text:
            diff = difflib.unified_diff(
                committed.splitlines(), text.splitlines(), f"{path} (committed)", f"{path} (generated)", lineterm=""
            )
            problems.append(f"{path}: differs from the generator\n" + "\n".join(diff))
    for path in sorted(schemas_dir.glob("*.avsc")):
        if path not in expected:
            problems.append(f"{path}: no domain event type generates it")
    return problems


def write(schemas_dir: Path = SCHEMAS_DIR) -> list[Path]:
    """Writes the current schema files that differ from the generator's; returns them."""
    written = []
    schemas_dir.mkdir(parents=True, exist_ok=True)
    for path, text in expected_files(schemas_dir).items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def release(schemas_dir: Path = SCHEMAS_DIR) -> list[Path]:
    """Copies every current schema that is not its newest history version to ``history/<Event>/v<N+1>.avsc``."""
    released = []
    for current in sorted(schemas_dir.glob("*.avsc")):
        history = schemas_dir / "history" / current.stem
        versions = sorted(int(p.stem[1:]) for p in history.glob("v*.avsc") if p.stem[1:].isdigit())
        newest = history / f"v{versions[-1]}.avsc" if versions else None
        text = current.read_text(encoding="utf-8")
        if newest is not None and json.loads(newest.read_text(encoding="utf-8")) == json.loads(text):
            continue
        target = history / f"v{(versions[-1] if versions else 0) + 1}.avsc"
        history.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        released.append(target)
    return released


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m consumers.wire.schemagen", description=_DESCRIPTION)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail, listing the differences, if the files are stale")
    mode.add_argument("--release", action="store_true", help="copy changed schemas to schemas/history/<Event>/vN")
    parser.add_argument("--schemas", type=Path, default=SCHEMAS_DIR, help="schema folder (default: schemas/)")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check(args.schemas)
            for problem in problems:
                print(problem, file=sys.stderr)
            if problems:
                print(
                    f"{len(problems)} schema file(s) out of step: run python -m consumers.wire.schemagen",
                    file=sys.stderr,
                )
            return 1 if problems else 0
        paths = release(args.schemas) if args.release else write(args.schemas)
    except SchemaGenError as exc:
        print(exc, file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
