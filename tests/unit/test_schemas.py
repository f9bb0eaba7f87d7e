"""Every domain event on the wire: one schema per stored event type, in step with the generator,
free of personal data, pinned byte for byte, mapped back to the same values, and FULL_TRANSITIVE
compatible with its history."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.wire import schemagen
from consumers.wire.codec import AvroSchema, SchemaStore, decode, encode
from consumers.wire.compat import check_schema_history
from consumers.wire.envelope import (
    DEVELOPMENT_DIGEST_KEY,
    ENVELOPE_FIELDS,
    EVENT_ID_NAMESPACE,
    FREE_TEXT_PREFIX,
    NAMESPACE,
    Kind,
    PartyIndex,
    UnmappableEvent,
    case_key,
    domain_event,
    domain_values,
    event_id,
    event_id_of,
    event_record,
    event_type_of,
    event_types,
    free_text_digest,
    stored_parties,
)
from domain.catalogue import stored_event_classes
from domain.channels import DebtorContact
from domain.claim import Claim
from domain.inputs import reason_code
from domain.parties import Creditor, Debtor
from tests.support.avro_java import java_fingerprints
from tests.support.event_samples import sample_app, sample_events, sample_log
from tests.support.golden_avro import GOLDEN, read_golden, sample_messages, sample_records

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
STORE = SchemaStore.from_directory(SCHEMAS)
EVENT_TYPES = sorted(event_types())

# Field names that would put personal data on the wire (national id, name, address), and the
# fields that match a pattern yet hold none: (schema, dotted field path) -> why.
PERSONAL_DATA = re.compile(r"national|f(o|ø)dsels|personn|ssn|name|address|adresse", re.IGNORECASE)
NOT_PERSONAL = {
    ("CreditorRegistered", "name"): "the municipality's name: an organisation, not a person",
    ("DebtorRegistered", "contact.has_postal_address"): "a boolean: whether an address is known, not the address",
}


def schema_json(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.avsc").read_text(encoding="utf-8"))
    return loaded


def walk_fields(schema: Any, prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(dotted path, field) for every field of a record, nested records and arrays of them included."""
    if isinstance(schema, list):
        for branch in schema:
            yield from walk_fields(branch, prefix)
    elif isinstance(schema, dict) and schema.get("type") == "record":
        for field in schema["fields"]:
            path = f"{prefix}{field['name']}"
            yield path, field
            yield from walk_fields(field["type"], f"{path}.")
    elif isinstance(schema, dict) and schema.get("type") == "array":
        yield from walk_fields(schema["items"], prefix)


def expected_values(event: Any) -> dict[str, Any]:
    """The event's attributes as ``domain_values`` gives them back: the debtor's contact complete, and
    an objection's free text and a payer's reference only as their digests (they may name people; they never go on
    the stream)."""
    values = dict(vars(event))
    if "contact" in values:
        values["contact"] = dataclasses.asdict(DebtorContact(**values["contact"]))
    event_type = event_type_of(event)
    for spec in event_type.fields if event_type is not None else ():
        if spec.kind is Kind.FREE_TEXT and values[spec.attribute] is not None:  # an objection, a payer's reference
            values[spec.attribute] = FREE_TEXT_PREFIX + free_text_digest(values[spec.attribute], DEVELOPMENT_DIGEST_KEY)
    if "reason" in values and isinstance(values["reason"], str):
        values["reason"] = reason_code(values["reason"])
    return values


def test_an_objections_free_text_never_reaches_the_wire_and_its_digest_is_keyed() -> None:
    _, _, record = sample_records()["ClaimObjectionRegistered"]
    event = sample_events()["ClaimObjectionRegistered"]
    assert "text" not in record
    assert record["text_sha256"] == ""  # retired: a bare SHA-256 of a short text is reversed by a dictionary
    assert record["text_hmac"] == hmac.new(DEVELOPMENT_DIGEST_KEY, event.text.encode(), hashlib.sha256).hexdigest()
    assert record["text_hmac"] != hashlib.sha256(event.text.encode()).hexdigest()
    _, other = event_record(event, position=1, parties=PartyIndex(fallback=stored_parties(sample_app())),
                            digest_key=b"another office's key")  # fmt: skip
    assert other["text_hmac"] != record["text_hmac"]


# --- (a) one schema per stored event type -----------------------------------------------------


def test_every_stored_event_type_has_a_schema() -> None:
    missing = [name for name in EVENT_TYPES if not (SCHEMAS / f"{name}.avsc").is_file()]
    assert missing == [], f"no schema for {missing}: run python -m consumers.wire.schemagen"


def test_every_schema_belongs_to_a_stored_event_type() -> None:
    orphans = sorted(p.stem for p in SCHEMAS.glob("*.avsc") if p.stem not in event_types())
    assert orphans == [], f"schemas without a domain event type: {orphans}"


def test_the_stored_event_types_leave_out_abstract_bases_and_generated_classes() -> None:
    claim_events = stored_event_classes(Claim)
    assert Claim.Event not in claim_events and Claim.InterestAccruing not in claim_events
    assert Claim.Created not in claim_events
    assert Creditor.Event not in stored_event_classes(Creditor) and Debtor.Created not in stored_event_classes(Debtor)
    assert (len(claim_events), len(stored_event_classes(Creditor)), len(stored_event_classes(Debtor))) == (27, 2, 4)
    assert {"ClaimInvoiced", "ClaimNoticeSent", "CreditorRegistered", "DebtorDied"} <= set(EVENT_TYPES)


def test_the_sample_run_produces_every_event_type() -> None:
    assert sorted(sample_events()) == EVENT_TYPES


def test_every_event_type_has_a_released_first_version() -> None:
    for name in EVENT_TYPES:
        assert (SCHEMAS / "history" / name / "v1.avsc").is_file(), name


# --- (b) in step with the generator ------------------------------------------------------------


def test_committed_schemas_are_what_the_generator_writes() -> None:
    problems = schemagen.check(SCHEMAS)
    assert problems == [], "\n".join(problems)


def test_schemagen_check_fails_naming_a_stale_and_a_stray_file(tmp_path: Path, capsys: Any) -> None:
    shutil.copytree(SCHEMAS, tmp_path, dirs_exist_ok=True)
    stale = tmp_path / "ClaimNoticeSent.avsc"
    stale.write_text(stale.read_text(encoding="utf-8").replace("Which notice", "What notice"), encoding="utf-8")
    (tmp_path / "ClaimFeeRefunded.avsc").write_text("{}", encoding="utf-8")
    assert schemagen.main(["--check", "--schemas", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{stale}: differs from the generator" in err and '+      "doc": "Which notice' in err
    assert "ClaimFeeRefunded.avsc: no domain event type generates it" in err
    assert schemagen.main(["--schemas", str(tmp_path)]) == 0
    assert stale.read_text(encoding="utf-8") == (SCHEMAS / "ClaimNoticeSent.avsc").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_a_schema_is_a_documented_named_record_starting_with_the_envelope(name: str) -> None:
    schema = schema_json(name)
    assert (schema["type"], schema["name"], schema["namespace"]) == ("record", name, NAMESPACE)
    assert schema["doc"].strip()
    undocumented = [path for path, field in walk_fields(schema) if not field.get("doc", "").strip()]
    assert undocumented == []
    envelope = schema_json("ClaimInvoiced")["fields"][: len(ENVELOPE_FIELDS)]
    assert schema["fields"][: len(ENVELOPE_FIELDS)] == envelope
    assert [f["name"] for f in envelope] == list(ENVELOPE_FIELDS)
    assert AvroSchema.load(SCHEMAS / f"{name}.avsc").name == f"{NAMESPACE}.{name}"


def test_money_travels_as_minor_units_and_interest_as_an_exact_string() -> None:
    fields = {f["name"]: f["type"] for f in schema_json("ClaimPaymentRegistered")["fields"]}
    assert fields["amount_minor"] == "long" and "amount" not in fields
    assert fields["interest_accrued"] == "string"
    assert [f["name"] for f in fields["allocation"]["fields"]] == [
        "costs_minor", "fees_minor", "interest_minor", "principal_minor", "surplus_minor",
    ]  # fmt: skip
    assert {f["name"] for f in schema_json("CreditorPolicyChanged")["fields"]} >= {"policy_json"}


# --- (c) no personal data -----------------------------------------------------------------------


def test_no_schema_has_a_field_for_national_id_name_or_address() -> None:
    found = [
        (name, path)
        for name in EVENT_TYPES
        for path, _ in walk_fields(schema_json(name))
        if PERSONAL_DATA.search(path.rsplit(".", 1)[-1]) and (name, path) not in NOT_PERSONAL
    ]
    assert found == []


def test_the_allowed_look_alikes_are_what_they_claim() -> None:
    contact = dict(walk_fields(schema_json("DebtorRegistered")))["contact.has_postal_address"]
    assert contact["type"] == "boolean"
    assert dict(walk_fields(schema_json("CreditorRegistered")))["name"]["type"] == "string"


# --- (d) golden bytes and the way back ----------------------------------------------------------


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_the_sample_event_encodes_to_its_golden_bytes(name: str) -> None:
    assert (GOLDEN / f"{name}.hex").is_file(), "run python -m tests.support.golden_avro --regen"
    _, full_name, record = sample_records()[name]
    assert encode(record, STORE.latest(full_name)).hex() == read_golden(name).hex()


def test_the_golden_helper_builds_the_same_bytes_it_pinned() -> None:
    assert {name: message.hex() for name, message in sample_messages(STORE).items()} == {
        name: read_golden(name).hex() for name in EVENT_TYPES
    }


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_a_decoded_message_gives_back_the_event_values(name: str) -> None:
    event = sample_events()[name]
    _, full_name, record = sample_records()[name]
    decoded = decode(read_golden(name), writer_lookup=STORE.by_fingerprint)
    assert decoded == record
    values = domain_values(decoded)
    assert values == expected_values(event)
    assert list(values) == list(vars(event)), "in the order the event class declares its attributes"
    rebuilt = domain_event(decoded)
    assert type(rebuilt) is type(event) and vars(rebuilt) == expected_values(event)


def test_the_envelope_of_a_later_claim_event_names_creditor_debtor_and_currency() -> None:
    _, _, record = sample_records()["ClaimNoticeSent"]
    invoiced = sample_events()["ClaimInvoiced"]
    assert record["case_id"] == str(invoiced.originator_id)
    assert (record["creditor_id"], record["debtor_id"], record["currency"]) == ("0301", invoiced.debtor_id, "NOK")
    assert (record["fee_minor"], record["effective_date"], record["rule_version"]) == (
        3500, date(2025, 2, 14), "no-sample",
    )  # fmt: skip
    assert sample_records()["ClaimReinstatementApplied"][2]["currency"] == "SEK"


def test_party_events_carry_no_currency_and_only_their_own_party() -> None:
    records = {name: record for name, (_, _, record) in sample_records().items()}
    for name in ("CreditorRegistered", "CreditorPolicyChanged"):
        assert (records[name]["creditor_id"], records[name]["debtor_id"], records[name]["currency"]) == (
            "0301", None, None,
        )  # fmt: skip
        assert records[name]["rule_version"] == ""
    died = records["DebtorDied"]
    assert (died["creditor_id"], died["debtor_id"], died["currency"]) == (None, died["case_id"], None)
    assert (died["effective_date"], died["recorded_date"]) == (date(2025, 2, 10), date(2025, 2, 17))


def test_interest_keeps_every_digit() -> None:
    event = sample_events()["ClaimPaymentRegistered"]
    record = sample_records()["ClaimPaymentRegistered"][2]
    assert record["interest_accrued"] == "8.133561643835616438356164383"
    assert Decimal(record["interest_accrued"]) == event.interest_accrued  # type: ignore[attr-defined]


def test_event_ids_are_stable_and_unique_over_the_log() -> None:
    ids = [event_id(event) for _, event in sample_log()]
    assert len(set(ids)) == len(ids)
    assert ids == [event_id(event) for _, event in sample_log()]


@given(st.uuids(), st.integers(min_value=1, max_value=2**40))
def test_an_event_id_is_the_uuid5_of_the_aggregate_id_and_version(aggregate: UUID, version: int) -> None:
    """``event_id_of`` takes the namespace's SHA-1 once and copies it per event: the very ids of ``uuid5``."""
    assert event_id_of(str(aggregate), version) == uuid5(EVENT_ID_NAMESPACE, f"{aggregate}/{version}")
    assert event_id_of(str(aggregate), version).version == 5


def test_the_kafka_key_is_the_aggregate_id_in_ascii() -> None:
    event = sample_events()["ClaimNoticeSent"]
    assert case_key(event) == str(event.originator_id).encode("ascii")
    assert UUID(case_key(event).decode("ascii")) == event.originator_id


# --- what cannot be mapped stops the publisher --------------------------------------------------


def test_an_unknown_event_type_is_refused_naming_type_and_position() -> None:
    class FeeRefunded(Claim.Event):
        amount: Decimal

    event = FeeRefunded(
        originator_id=UUID(int=1), originator_version=3, timestamp=datetime(2025, 1, 1, tzinfo=UTC), command_id="x",
        effective=date(2025, 1, 1), recorded=date(2025, 1, 1), rule_version="no-1", amount=Decimal("1.00"),
    )  # fmt: skip
    with pytest.raises(UnmappableEvent, match=r"FeeRefunded at notification position 42 .*no schema"):
        event_record(event, position=42)


def test_a_claim_event_without_known_parties_is_refused() -> None:
    event = sample_events()["ClaimNoticeSent"]
    with pytest.raises(UnmappableEvent, match=r"ClaimNoticeSent \(Claim.NoticeSent at notification position 6\)"):
        event_record(event, position=6)
    with pytest.raises(UnmappableEvent, match="no party lookup knows them"):
        event_record(event, position=6, parties=PartyIndex())


def test_a_fraction_of_an_ore_is_refused_not_rounded() -> None:
    position, event = next((p, e) for p, e in sample_log() if isinstance(e, Claim.NoticeSent))
    odd = dataclasses.replace(event, fee=Decimal("35.005"))
    parties = PartyIndex()
    for _, earlier in sample_log()[:position]:
        parties.learn(earlier)
    with pytest.raises(UnmappableEvent, match=r"attribute fee=Decimal\('35.005'\).*not a whole number of øre"):
        event_record(odd, position=position, parties=parties)


def test_after_a_restart_the_party_index_reads_the_creation_event_from_the_store() -> None:
    app = sample_app()
    notice = next(e for _, e in sample_log() if isinstance(e, Claim.NoticeSent))
    parties = PartyIndex(fallback=stored_parties(app))
    _, record = event_record(notice, position=6, parties=parties)
    assert (record["creditor_id"], record["currency"]) == ("0301", "NOK")
    assert notice.originator_id in set(parties)
    assert stored_parties(app)(UUID(int=0)) is None


# --- (e) FULL_TRANSITIVE with the history -------------------------------------------------------


def test_the_schemas_pass_the_compatibility_gate() -> None:
    assert [str(i) for i in check_schema_history(SCHEMAS)] == []


def test_java_reads_every_schema_with_the_same_fingerprint() -> None:
    paths = [SCHEMAS / f"{name}.avsc" for name in EVENT_TYPES]
    java = java_fingerprints(paths)
    assert [j.fingerprint_hex for j in java] == [AvroSchema.load(p).fingerprint_hex for p in paths]
