"""Read kravsak's case events from Kafka and print them: a consumer written only against the wire.

It uses nothing from kravsak, only kafka-python and fastavro, the way a municipality's own service
(or an auditor) would:

1. read the compacted topic ``kravsak.schemas`` from the beginning: key = a schema fingerprint
   (16 hex characters), value = the schema's JSON. Check each fingerprint against the schema and
   keep ``fingerprint -> parsed schema``;
2. read ``kravsak.case-events`` from the beginning. Each value is Avro *single-object encoding*:
   ``C3 01``, the writer schema's 8-byte CRC-64-AVRO fingerprint, then the Avro body. Look the
   fingerprint up, decode the body with ``fastavro.schemaless_reader``;
3. keep the first copy of every ``event_id`` (delivery is at-least-once: after a publisher
   crash an event can come twice, always with the same id) and print it.

Order: the events of one case (one Kafka key) come in order; there is no order across cases.

Run::

    KAFKA_PASSWORD=... python examples/consume_case_events.py --bootstrap 127.0.0.1:59092 \
        --security-protocol SASL_PLAINTEXT --user projector --max-events 20

kravsak's Kafka wants a SCRAM-SHA-512 user that may read the topics (the local stack's users and
passwords: ``.kravsak/secrets/stack.json``); over TLS add ``--security-protocol SASL_SSL --cafile ca.pem``.
The password comes from the environment (``KAFKA_PASSWORD``), never from the command line.

Exit code 0, or 1 when a message could not be decoded (its partition and offset are printed).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from datetime import date, datetime
from typing import Any

from fastavro import schemaless_reader
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form
from kafka import KafkaConsumer, TopicPartition

MAGIC = b"\xc3\x01"
HEADER_SIZE = 10  # magic (2) + fingerprint (8)
ENVELOPE = {
    "event_id", "event_type", "case_id", "creditor_id", "debtor_id", "aggregate_version",
    "notification_position", "effective_date", "recorded_date", "recorded_at", "rule_version", "currency",
}  # fmt: skip


def read_all(consumer: KafkaConsumer, topic: str, timeout_s: float) -> list[Any]:
    """Every record of a topic, from the beginning to the end it had when we started."""
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    if not partitions:
        raise SystemExit(f"topic {topic} does not exist (or has no partitions)")
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    end = consumer.end_offsets(partitions)
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while any(consumer.position(tp) < end[tp] for tp in partitions) and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    return records


def client_args(args: argparse.Namespace) -> dict[str, Any]:
    """kafka-python's connection arguments from the command line (and KAFKA_PASSWORD)."""
    out: dict[str, Any] = {"bootstrap_servers": args.bootstrap.split(","), "security_protocol": args.security_protocol}
    if args.security_protocol.startswith("SASL"):
        out.update(sasl_mechanism="SCRAM-SHA-512", sasl_plain_username=args.user)
        out["sasl_plain_password"] = os.environ.get("KAFKA_PASSWORD", "")
    if args.cafile:
        out["ssl_cafile"] = args.cafile
    return out


def load_schemas(args: argparse.Namespace, timeout_s: float) -> dict[bytes, Any]:
    """Fingerprint (8 wire bytes) -> parsed writer schema, from the compacted schemas topic."""
    topic = args.schemas_topic
    consumer = KafkaConsumer(**client_args(args), group_id=None, enable_auto_commit=False)
    try:
        records = read_all(consumer, topic, timeout_s)
    finally:
        consumer.close()
    schemas: dict[bytes, Any] = {}
    for record in records:
        if record.value is None:  # a tombstone: the schema was withdrawn
            schemas.pop(bytes.fromhex(record.key.decode()), None)
            continue
        parsed = parse_schema(json.loads(record.value))
        actual = fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO")
        if actual != record.key.decode():
            print(f"warning: schema keyed {record.key.decode()} has fingerprint {actual}; using the latter",
                  file=sys.stderr)  # fmt: skip
        schemas[bytes.fromhex(actual)] = parsed
    return schemas


def decode(value: bytes, schemas: dict[bytes, Any]) -> dict[str, Any]:
    """One single-object encoded message -> the record as written."""
    if value[:2] != MAGIC or len(value) < HEADER_SIZE:
        raise ValueError(f"not Avro single-object encoding (starts {value[:2].hex()})")
    writer = schemas.get(value[2:HEADER_SIZE])
    if writer is None:
        raise LookupError(f"unknown writer schema fingerprint {value[2:HEADER_SIZE].hex()}")
    body = io.BytesIO(value)
    body.seek(HEADER_SIZE)
    record = schemaless_reader(body, writer, None)
    if not isinstance(record, dict):
        raise ValueError("the writer schema is not a record")
    return record


def describe(record: dict[str, Any]) -> str:
    """One line: position, effective date, type, case, then the event's own fields."""
    currency = record.get("currency") or ""
    parts = []
    for name, value in record.items():
        if name in ENVELOPE or name == "command_id" or value in (None, [], ""):
            continue
        if name.endswith("_minor") and isinstance(value, int):
            parts.append(f"{name[: -len('_minor')]}={value / 100:.2f}{' ' + currency if currency else ''}")
        elif isinstance(value, dict):
            continue  # nested detail (allocations, contact flags): left out of the one-line view
        elif isinstance(value, date | datetime):
            parts.append(f"{name}={value.isoformat()}")
        else:
            text = str(value)
            parts.append(f"{name}={text if len(text) <= 40 else text[:37] + '...'}")
    return (
        f"#{record['notification_position']:<8} {record['effective_date']} {record['event_type']:<26} "
        f"case={record['case_id']} creditor={record.get('creditor_id') or '-'} " + " ".join(parts)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:59092", help="Kafka bootstrap servers, host:port[,...]")
    parser.add_argument(
        "--security-protocol", default="SASL_PLAINTEXT", choices=["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"]
    )
    parser.add_argument("--user", default="projector", help="SCRAM user (password: the KAFKA_PASSWORD variable)")
    parser.add_argument("--cafile", default=None, help="CA certificate that verifies the brokers (TLS)")
    parser.add_argument("--topic", default="kravsak.case-events")
    parser.add_argument("--schemas-topic", default="kravsak.schemas")
    parser.add_argument("--max-events", type=int, default=None, help="stop after printing this many events")
    parser.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout if args.timeout else float("inf")

    consumer = KafkaConsumer(
        **client_args(args), group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", request_timeout_ms=30_000,
    )  # fmt: skip
    try:
        schemas = load_schemas(args, timeout_s=min(args.timeout or 60, 60))
        print(f"{len(schemas)} schemas from {args.schemas_topic}", file=sys.stderr)
        partitions = [TopicPartition(args.topic, p) for p in sorted(consumer.partitions_for_topic(args.topic) or ())]
        if not partitions:
            print(f"topic {args.topic} does not exist", file=sys.stderr)
            return 1
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        seen: set[str] = set()
        printed = duplicates = failed = 0
        while time.monotonic() < deadline and (args.max_events is None or printed < args.max_events):
            for records in consumer.poll(timeout_ms=500).values():
                for message in records:
                    try:
                        record = decode(message.value, schemas)
                    except LookupError:
                        # a schema published after we read the topic: read it again, once
                        schemas.update(load_schemas(args, 30))
                        try:
                            record = decode(message.value, schemas)
                        except (LookupError, ValueError) as exc:
                            failed += 1
                            print(f"cannot decode partition {message.partition} offset {message.offset}: {exc}",
                                  file=sys.stderr)  # fmt: skip
                            continue
                    except ValueError as exc:
                        failed += 1
                        print(f"cannot decode partition {message.partition} offset {message.offset}: {exc}",
                              file=sys.stderr)  # fmt: skip
                        continue
                    event_id = str(record["event_id"])
                    if event_id in seen:
                        duplicates += 1
                        continue
                    seen.add(event_id)
                    print(describe(record), flush=True)
                    printed += 1
                    if args.max_events is not None and printed >= args.max_events:
                        break
                if args.max_events is not None and printed >= args.max_events:
                    break
        print(f"{printed} events, {duplicates} duplicates dropped, {failed} not decodable", file=sys.stderr)
        return 1 if failed else 0
    finally:
        consumer.close()


if __name__ == "__main__":
    sys.exit(main())
