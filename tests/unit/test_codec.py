"""Avro single-object encoding: header, fingerprints, golden bytes, schema resolution, errors.

Reference values come from Apache Avro's Java implementation (tools/avro-reference): they are
pinned here, and the tests marked "Java" compare with a live run of it as well.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.wire.codec import (
    HEADER_SIZE,
    MAGIC,
    AvroSchema,
    BadMagicError,
    CodecError,
    SchemaStore,
    TruncatedMessageError,
    UnknownSchemaError,
    crc64_avro,
    decode,
    encode,
    fingerprint_bytes,
    fingerprint_hex,
    read_fingerprint,
)
from tests.support.avro_java import REPO_ROOT, java_encode, java_fingerprints

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "avro"
CODEC = FIXTURES / "codec"
V1 = AvroSchema.load(CODEC / "payment_registered_v1.avsc")
V2 = AvroSchema.load(CODEC / "payment_registered_v2.avsc")

# Computed once with `AvroCompat fingerprint` (Java SchemaNormalization.parsingFingerprint64):
# file -> (schema-fingerprint header hex, Java's signed long).
JAVA_FINGERPRINTS = {
    "int.avsc": ("8f5c393f1ad57572", 8247732601305521295),
    "kitchen_sink.avsc": ("694290c2992928d7", -2943056616115649943),
    "payment_registered_v1.avsc": ("f829cc3b1bd7d617", 1717796819855747576),
    "payment_registered_v2.avsc": ("c0104c5255d5492a", 3047201185322504384),
}

PAYMENT = {
    "event_id": UUID("0b6f2c1e-3d4a-4e5f-8a9b-0c1d2e3f4a5b"),
    "case_id": "NO-0301-2025-000042",
    "occurred_at": datetime(2025, 1, 15, 10, 0, 0, 123456, tzinfo=UTC),
    "paid_on": date(2025, 1, 15),
    "amount": {"minor_units": 125050, "currency": "NOK"},
    "kid": "0012345678903",
}
# PAYMENT encoded with V1, identical to Java's BinaryMessageEncoder output for the same datum
# (payment_registered_v1.datum.json).
PAYMENT_V1_GOLDEN = (
    "c301"
    "f829cc3b1bd7d617"
    "4830623666326331652d336434612d346535662d386139622d306331643265336634613562"
    "264e4f2d303330312d323032352d303030303432"
    "80a9cfd9f7ee9506"
    "8eba02"
    "f4a10f00"
    "021a30303132333435363738393033"
)


def store(*schemas: AvroSchema) -> SchemaStore:
    return SchemaStore(schemas)


def test_int_fingerprint_is_javas_parsing_fingerprint64_in_little_endian_bytes() -> None:
    schema = AvroSchema.parse("int")
    assert schema.fingerprint64 == 8247732601305521295 == 0x7275D51A3F395C8F
    assert schema.fingerprint == bytes.fromhex("8f5c393f1ad57572")
    assert fingerprint_hex('"int"') == "8f5c393f1ad57572"


@pytest.mark.parametrize("file_name", sorted(JAVA_FINGERPRINTS))
def test_fingerprint_matches_pinned_java_value(file_name: str) -> None:
    schema = AvroSchema.load(CODEC / file_name)
    assert (schema.fingerprint_hex, schema.fingerprint64) == JAVA_FINGERPRINTS[file_name]


def test_fingerprints_and_canonical_forms_match_a_live_java_run_for_fixtures_and_project_schemas() -> None:
    """Java: every fixture schema, and every schema kravsak ships under schemas/."""
    files = sorted(CODEC.glob("*.avsc")) + sorted((REPO_ROOT / "schemas").rglob("*.avsc"))
    java = java_fingerprints(files)
    for path, reference in zip(files, java, strict=True):
        schema = AvroSchema.load(path)
        assert (schema.canonical_form, schema.fingerprint_hex, schema.fingerprint64) == (
            reference.canonical_form,
            reference.fingerprint_hex,
            reference.fingerprint64,
        ), path


def test_sample_payment_encodes_to_the_pinned_golden_bytes() -> None:
    assert encode(PAYMENT, V1).hex() == PAYMENT_V1_GOLDEN


def test_golden_bytes_equal_javas_binary_message_encoder_output() -> None:
    """Java: org.apache.avro.message.BinaryMessageEncoder on the same datum."""
    java = java_encode(CODEC / "payment_registered_v1.avsc", CODEC / "payment_registered_v1.datum.json")
    assert java.hex() == PAYMENT_V1_GOLDEN


def test_message_starts_with_magic_then_the_header_fingerprint() -> None:
    data = encode(PAYMENT, V1)
    assert data[:2] == MAGIC == b"\xc3\x01"
    assert data[2:HEADER_SIZE].hex() == fingerprint_hex(V1) == V1.fingerprint_hex
    assert read_fingerprint(data) == V1.fingerprint


def test_record_round_trips_with_logical_types() -> None:
    assert decode(encode(PAYMENT, V1), writer_lookup=store(V1).by_fingerprint) == PAYMENT


@given(
    case_id=st.text(max_size=40),
    minor_units=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    currency=st.sampled_from(["NOK", "SEK"]),
    paid_on=st.dates(),
    kid=st.none() | st.text(alphabet="0123456789", min_size=2, max_size=25),
)
def test_any_payment_round_trips(case_id: str, minor_units: int, currency: str, paid_on: date, kid: str | None) -> None:
    record = dict(PAYMENT, case_id=case_id, paid_on=paid_on, kid=kid)
    record["amount"] = {"minor_units": minor_units, "currency": currency}
    assert decode(encode(record, V1), writer_lookup=store(V1).by_fingerprint) == record


def test_newer_reader_fills_added_fields_with_their_defaults_when_reading_old_data() -> None:
    old_message = encode(PAYMENT, V1)
    record = decode(old_message, writer_lookup=store(V1, V2).by_fingerprint, reader_schema=V2)
    assert record == dict(PAYMENT, channel="BANK", fee=None)


def test_older_reader_drops_fields_it_does_not_know_when_reading_new_data() -> None:
    new_message = encode(dict(PAYMENT, channel="CASH", fee={"minor_units": 3500, "currency": "NOK"}), V2)
    record = decode(new_message, writer_lookup=store(V1, V2).by_fingerprint, reader_schema=V1)
    assert record == PAYMENT


def test_reader_with_the_writers_fingerprint_reads_without_resolution() -> None:
    assert decode(encode(PAYMENT, V1), writer_lookup=store(V1).by_fingerprint, reader_schema=V1) == PAYMENT


def test_unknown_fingerprint_is_named_in_hex() -> None:
    data = encode(PAYMENT, V1)
    with pytest.raises(UnknownSchemaError, match="unknown writer schema fingerprint f829cc3b1bd7d617") as caught:
        decode(data, writer_lookup=store(V2).by_fingerprint)
    assert caught.value.fingerprint == V1.fingerprint


def test_lookup_that_returns_none_means_unknown_schema() -> None:
    with pytest.raises(UnknownSchemaError):
        decode(encode(PAYMENT, V1), writer_lookup=lambda fp: None)


def test_bad_magic_is_rejected_before_any_lookup() -> None:
    data = b"\x00\x01" + encode(PAYMENT, V1)[2:]
    with pytest.raises(BadMagicError, match="bad magic 0001: expected c301"):
        decode(data, writer_lookup=store(V1).by_fingerprint)


def test_plain_json_is_bad_magic_not_truncated() -> None:
    with pytest.raises(BadMagicError):
        decode(b"{}", writer_lookup=store(V1).by_fingerprint)


@pytest.mark.parametrize("length", [0, 1, 2, 9])
def test_message_shorter_than_the_header_is_truncated(length: int) -> None:
    with pytest.raises(TruncatedMessageError, match=f"truncated message: {length} bytes"):
        decode(encode(PAYMENT, V1)[:length], writer_lookup=store(V1).by_fingerprint)


def test_message_cut_inside_the_body_is_truncated() -> None:
    data = encode(PAYMENT, V1)
    with pytest.raises(TruncatedMessageError, match="truncated kravsak.fixtures.PaymentRegistered message"):
        decode(data[:-3], writer_lookup=store(V1).by_fingerprint)


def test_bytes_after_the_body_are_an_error() -> None:
    with pytest.raises(CodecError, match="2 bytes left after the kravsak.fixtures.PaymentRegistered body"):
        decode(encode(PAYMENT, V1) + b"\x00\x00", writer_lookup=store(V1).by_fingerprint)


def test_reader_that_cannot_resolve_the_writer_names_both_schemas() -> None:
    strict_reader = json.loads((CODEC / "payment_registered_v2.avsc").read_text())
    strict_reader["fields"].append({"name": "channel_ref", "type": "string"})
    reader = AvroSchema.parse(strict_reader)
    with pytest.raises(CodecError, match="cannot read data written with kravsak.fixtures.PaymentRegistered"):
        decode(encode(PAYMENT, V1), writer_lookup=store(V1).by_fingerprint, reader_schema=reader)


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({k: v for k, v in PAYMENT.items() if k != "case_id"}, "case_id"),
        (dict(PAYMENT, amount_nok=1), "amount_nok"),
        (dict(PAYMENT, case_id=42), ""),
        (dict(PAYMENT, amount={"minor_units": 2**64, "currency": "NOK"}), ""),
    ],
    ids=["missing field", "unknown key", "wrong type", "long overflow"],
)
def test_record_that_does_not_fit_the_schema_is_refused(record: dict[str, Any], problem: str) -> None:
    with pytest.raises(CodecError, match=f"cannot encode record as kravsak.fixtures.PaymentRegistered: .*{problem}"):
        encode(record, V1)


def test_field_with_default_may_be_left_out_when_encoding() -> None:
    record = {k: v for k, v in PAYMENT.items() if k != "kid"}
    assert decode(encode(record, V1), writer_lookup=store(V1).by_fingerprint) == dict(record, kid=None)


def test_invalid_schema_is_a_codec_error() -> None:
    with pytest.raises(CodecError, match="invalid Avro schema"):
        AvroSchema.parse({"type": "record", "name": "Bad", "fields": [{"name": "a", "type": "Nowhere"}]})


def test_store_finds_a_schema_by_wire_bytes_header_hex_or_java_long() -> None:
    schemas = store(V1, V2)
    for key in (V1.fingerprint, V1.fingerprint_hex, V1.fingerprint64, V1.fingerprint64 % 2**64):
        assert schemas.by_fingerprint(key) is V1
        assert key in schemas
    assert b"\x00" * 8 not in schemas
    with pytest.raises(UnknownSchemaError):
        schemas.by_fingerprint("0000000000000000")
    with pytest.raises(ValueError, match="8 bytes"):
        fingerprint_bytes("00")


def test_latest_is_the_schema_added_last_by_full_or_simple_name() -> None:
    schemas = store(V1, V2)
    assert schemas.latest("kravsak.fixtures.PaymentRegistered") is V2
    assert schemas.latest("PaymentRegistered") is V2
    with pytest.raises(LookupError, match="no schema named 'CaseOpened'"):
        schemas.latest("CaseOpened")


def test_simple_name_shared_by_two_namespaces_is_ambiguous() -> None:
    other = dict(json.loads((CODEC / "payment_registered_v1.avsc").read_text()), namespace="kravsak.other")
    schemas = store(V1, AvroSchema.parse(other))
    with pytest.raises(LookupError, match="ambiguous"):
        schemas.latest("PaymentRegistered")


def test_store_loads_a_schema_folder_with_history_so_old_data_stays_readable() -> None:
    schemas = SchemaStore.from_directory(FIXTURES / "compat" / "compatible")
    current = schemas.latest("kravsak.fixtures.PaymentRegistered")
    assert [f["name"] for f in current.source["fields"]][-1] == "note"
    assert len(schemas) == 5  # PaymentRegistered v1, v2, current; CaseOpened v1 = current; DebtorNotified
    record = decode(encode(PAYMENT, V1), writer_lookup=schemas.by_fingerprint, reader_schema=current)
    assert record == dict(PAYMENT, channel="BANK", fee=None, note="")


def test_store_refuses_a_history_file_that_is_not_a_version(tmp_path: Path) -> None:
    (tmp_path / "history" / "PaymentRegistered").mkdir(parents=True)
    (tmp_path / "history" / "PaymentRegistered" / "latest.avsc").write_text('"int"')
    with pytest.raises(CodecError, match="history files are named v1.avsc"):
        SchemaStore.from_directory(tmp_path)


@given(st.binary(max_size=300))
def test_our_crc64_avro_is_fastavros(data: bytes) -> None:
    from fastavro.schema import fingerprint

    text = data.decode("latin-1")  # any bytes as text; fastavro fingerprints its UTF-8
    assert crc64_avro(text.encode("utf-8")).hex() == fingerprint(text, "CRC-64-AVRO")


def test_every_shipped_schema_has_fastavros_fingerprint() -> None:
    from fastavro.schema import fingerprint

    store = SchemaStore.from_directory(REPO_ROOT / "schemas")
    schemas = list(store)
    assert len(schemas) > 50
    for schema in schemas:
        assert schema.fingerprint.hex() == fingerprint(schema.canonical_form, "CRC-64-AVRO"), schema.name
    assert crc64_avro(b'"int"').hex() == "8f5c393f1ad57572"  # the module docstring's example (Java's long)


# --- decode_plain: top-level logical types converted by the store, not by fastavro ---------------------------------


def test_plain_decoding_gives_the_record_decode_current_gives_for_every_event_type() -> None:
    from consumers.wire.envelope import PartyIndex, event_record
    from tests.support.event_samples import sample_log

    schemas = SchemaStore.from_directory(REPO_ROOT / "schemas")
    parties, seen = PartyIndex(), set()
    for position, event in sample_log():
        parties.learn(event)
        name, record = event_record(event, position=position, parties=parties)
        data = encode(record, schemas.latest(name))
        current = schemas.decode_current(data)
        assert schemas.decode_plain(data) == current
        as_text = schemas.decode_plain(data, as_text=frozenset({"event_id"}))
        assert as_text == dict(current, event_id=str(current["event_id"]))
        assert type(as_text["recorded_at"]) is datetime and as_text["recorded_at"].tzinfo is UTC
        seen.add(name)
    assert len(seen) >= 40


@given(
    occurred=st.datetimes(timezones=st.just(UTC)),
    paid_on=st.dates(),
    fee=st.none() | st.integers(0, 10**12),
)
def test_plain_decoding_converts_any_date_and_time_as_fastavro_does(
    occurred: datetime, paid_on: date, fee: int | None
) -> None:
    nullable = AvroSchema.parse(
        {
            "type": "record",
            "name": "Odd",
            "fields": [
                {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
                {"name": "on", "type": ["null", {"type": "int", "logicalType": "date"}]},
                {"name": "fee", "type": ["null", "long"]},
                {"name": "days", "type": {"type": "array", "items": {"type": "int", "logicalType": "date"}}},
            ],
        }
    )
    schemas = store(nullable)
    for on in (paid_on, None):
        data = encode({"at": occurred, "on": on, "fee": fee, "days": [paid_on]}, nullable)
        assert schemas.decode_plain(data) == schemas.decode_current(data)


def test_plain_decoding_of_an_earlier_version_resolves_it_as_decode_current_does() -> None:
    schemas = store(V1, V2)
    data = encode(PAYMENT, V1)
    assert schemas.decode_plain(data) == schemas.decode_current(data) == dict(PAYMENT, channel="BANK", fee=None)


def test_plain_decoding_of_a_value_no_date_can_be_is_a_codec_error() -> None:
    as_int = AvroSchema.parse({"type": "record", "name": "D", "fields": [{"name": "on", "type": "int"}]})
    as_date = AvroSchema.parse(
        {"type": "record", "name": "D", "fields": [{"name": "on", "type": {"type": "int", "logicalType": "date"}}]}
    )
    data = as_date.header + encode({"on": 2**31 - 1}, as_int)[HEADER_SIZE:]
    with pytest.raises(CodecError, match="corrupt D body"):
        store(as_date).decode_plain(data)


def test_a_uuid_on_fixed_bytes_is_left_to_fastavro() -> None:
    fixed = AvroSchema.parse(
        {
            "type": "record",
            "name": "F",
            "fields": [{"name": "id", "type": {"type": "fixed", "name": "U", "size": 16, "logicalType": "uuid"}}],
        }
    )
    schemas = store(fixed)
    data = encode({"id": UUID(int=5).bytes}, fixed)
    assert schemas.decode_plain(data) == schemas.decode_current(data)


@pytest.mark.parametrize(
    "text",
    [
        "0B6F2C1E-3D4A-4E5F-8A9B-0C1D2E3F4A5B",
        "{0b6f2c1e-3d4a-4e5f-8a9b-0c1d2e3f4a5b}",
        "0b6f2c1e3d4a4e5f8a9b0c1d2e3f4a5b",
    ],
)
def test_a_uuid_kept_as_text_is_the_text_of_its_uuid_in_any_form_fastavro_reads(text: str) -> None:
    schemas = store(V1)
    data = encode(dict(PAYMENT, event_id=text), V1)
    assert schemas.decode_plain(data, as_text=frozenset({"event_id"}))["event_id"] == str(UUID(text))


def test_a_uuid_kept_as_text_that_is_no_uuid_is_a_codec_error_as_before() -> None:
    schemas = store(V1)
    data = encode(dict(PAYMENT, event_id="not-a-uuid"), V1)
    with pytest.raises(CodecError, match="corrupt kravsak.fixtures.PaymentRegistered body"):
        schemas.decode_current(data)
    with pytest.raises(CodecError, match="corrupt kravsak.fixtures.PaymentRegistered body"):
        schemas.decode_plain(data, as_text=frozenset({"event_id"}))
