"""Avro single-object encoding of kravsak events (the bytes of a Kafka message value).

Wire form (Avro specification, "Single-object encoding")::

    C3 01 | fingerprint: 8 bytes | body: Avro binary encoding of the record

The fingerprint is CRC-64-AVRO (Rabin) of the writer schema's Parsing Canonical Form, as
little-endian bytes: exactly what Java's ``BinaryMessageEncoder`` writes for the long
``SchemaNormalization.parsingFingerprint64(schema)``. For the schema ``"int"`` Java's long is
``0x7275d51a3f395c8f`` and the wire bytes are ``8f 5c 39 3f 1a d5 75 72``.

The ``schema-fingerprint`` Kafka header carries the same eight bytes as 16 lowercase hex
characters in wire order (``"8f5c393f1ad57572"`` for ``"int"``; UTF-8 encoded in the header), so
``header == message[2:10].hex()``. It is *not* Java's ``Long.toHexString`` of the fingerprint,
which prints the bytes the other way round.

Decoding looks the writer schema up by fingerprint (``SchemaStore.by_fingerprint``, fed from the
schema files and the compacted ``kravsak.schemas`` topic) and resolves it against the reader's
schema, so a consumer built for a newer or older version reads the data the Avro way. A message
that cannot be decoded raises a ``CodecError`` subclass whose text names the problem (bad
magic, truncated, unknown fingerprint, schemas that do not resolve): the caller decides whether
to park it; this module never skips, retries or commits anything.

Schemas must be self-contained: a named type used by an event is defined inside that event's
schema file, not in another file.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeAlias
from uuid import UUID

from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.schema import (
    SchemaParseException,
    UnknownType,
    parse_schema,
    to_parsing_canonical_form,
)

MAGIC = b"\xc3\x01"
FINGERPRINT_SIZE = 8
HEADER_SIZE = len(MAGIC) + FINGERPRINT_SIZE

SchemaJSON: TypeAlias = str | Mapping[str, Any] | Sequence[Any]
"""A schema as JSON text, or as the value ``json.loads`` gives for it."""

_VERSION_FILE = re.compile(r"v([1-9][0-9]*)\.avsc")


class CodecError(ValueError):
    """A record that cannot be encoded, or a message that cannot be decoded."""


class BadMagicError(CodecError):
    """The message does not start with the single-object marker C3 01."""


class TruncatedMessageError(CodecError):
    """The message ends inside its header or its Avro body."""


class UnknownSchemaError(CodecError, LookupError):
    """No writer schema with this fingerprint is known (yet)."""

    def __init__(self, fingerprint: bytes) -> None:
        self.fingerprint = fingerprint
        super().__init__(
            f"unknown writer schema fingerprint {fingerprint.hex()} "
            "(CRC-64-AVRO, little-endian hex as in the schema-fingerprint header)"
        )


@dataclass(frozen=True, eq=False, slots=True)
class AvroSchema:
    """A parsed schema with its fingerprint, built once and reused for every message."""

    name: str
    """Full name of a named type (``kravsak.events.WarningSent``), else the type name."""
    canonical_form: str
    """Parsing Canonical Form, the text the fingerprint is computed from."""
    fingerprint: bytes
    """CRC-64-AVRO of the canonical form, 8 bytes, little-endian (wire order)."""
    parsed: Any = field(repr=False)
    """fastavro's parsed form, what fastavro's readers and writers take."""
    source: Any = field(repr=False)
    """The schema as given (``json.loads`` value): keeps docs, defaults and aliases."""
    header: bytes = field(repr=False)
    """``C3 01`` followed by the fingerprint: the first 10 bytes of every message."""

    @classmethod
    def parse(cls, schema: SchemaJSON) -> AvroSchema:
        """Parses a schema given as JSON text or as its ``json.loads`` value.

        A string that is not JSON is taken as a type name, so ``parse("int")`` works as well as
        ``parse('"int"')``.
        """
        source: Any = schema
        if isinstance(schema, str):
            try:
                source = json.loads(schema)
            except json.JSONDecodeError:
                source = schema
        try:
            parsed = parse_schema(source)
            canonical = to_parsing_canonical_form(parsed)
        except (SchemaParseException, UnknownType, ValueError, TypeError, KeyError) as exc:
            raise CodecError(f"invalid Avro schema: {exc}") from exc
        fp = crc64_avro(canonical.encode("utf-8"))
        name = parsed["name"] if isinstance(parsed, dict) and "name" in parsed else _type_name(parsed)
        return cls(name, canonical, fp, parsed, source, MAGIC + fp)

    @classmethod
    def load(cls, path: Path) -> AvroSchema:
        """Parses a ``.avsc`` file."""
        try:
            return cls.parse(path.read_text(encoding="utf-8"))
        except CodecError as exc:
            raise CodecError(f"{path}: {exc}") from exc

    @property
    def fingerprint_hex(self) -> str:
        """The ``schema-fingerprint`` header value: 16 hex characters, wire byte order."""
        return self.fingerprint.hex()

    @property
    def fingerprint64(self) -> int:
        """The fingerprint as Java's signed long ``SchemaNormalization.parsingFingerprint64``."""
        return int.from_bytes(self.fingerprint, "little", signed=True)


def _crc64_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_CRC64_EMPTY & -(fp & 1))
        table.append(fp)
    return tuple(table)


_CRC64_EMPTY = 0xC15D213AA4D7A795
_CRC64_TABLE = _crc64_table()


def crc64_avro(data: bytes) -> bytes:
    """CRC-64-AVRO (Rabin) of ``data``, 8 bytes little-endian: fastavro's ``fingerprint(…, "CRC-64-AVRO")``,
    whose pure-Python form builds its 256-entry table again on every call (most of a schema folder's load)."""
    table, result = _CRC64_TABLE, _CRC64_EMPTY
    for byte in data:
        result = (result >> 8) ^ table[(result ^ byte) & 0xFF]
    return result.to_bytes(8, "little")


def _type_name(parsed: Any) -> str:
    if isinstance(parsed, str):
        return parsed
    if isinstance(parsed, list):
        return "union"
    return str(parsed["type"])


def _as_schema(schema: AvroSchema | SchemaJSON) -> AvroSchema:
    return schema if isinstance(schema, AvroSchema) else AvroSchema.parse(schema)


def fingerprint_hex(schema: AvroSchema | SchemaJSON) -> str:
    """The ``schema-fingerprint`` Kafka header value of a schema.

    16 lowercase hex characters of the 8 little-endian CRC-64-AVRO bytes, i.e. the same bytes as
    ``message[2:10]``: ``fingerprint_hex('"int"') == "8f5c393f1ad57572"``.
    """
    return _as_schema(schema).fingerprint.hex()


def fingerprint_bytes(value: bytes | int | str) -> bytes:
    """Normalises a fingerprint to its 8 wire bytes.

    Accepts the 8 bytes themselves, the header's 16 hex characters, or an int: Java's signed
    long from ``parsingFingerprint64`` or the same 64 bits unsigned.
    """
    if isinstance(value, bytes):
        fp = value
    elif isinstance(value, int):
        if not -(2**63) <= value < 2**64:
            raise ValueError(f"fingerprint {value} does not fit in 64 bits")
        fp = (value % 2**64).to_bytes(FINGERPRINT_SIZE, "little")
    else:
        try:
            fp = bytes.fromhex(value)
        except ValueError:
            raise ValueError(f"fingerprint {value!r} is not hex") from None
    if len(fp) != FINGERPRINT_SIZE:
        raise ValueError(f"a fingerprint has {FINGERPRINT_SIZE} bytes, got {len(fp)}")
    return fp


def encode(record: Mapping[str, Any], schema: AvroSchema, buf: io.BytesIO | None = None) -> bytes:
    """Encodes one record as a single-object message with ``schema`` as the writer schema.

    Strict: a field missing from the record (unless the schema gives it a default) or a key the
    schema does not know raises ``CodecError`` instead of being filled in or dropped silently.
    ``buf``: a buffer to reuse (emptied first), for a caller that encodes many records.
    """
    if buf is None:
        buf = io.BytesIO()
    else:
        buf.seek(0)
        buf.truncate()
    buf.write(schema.header)
    try:
        schemaless_writer(buf, schema.parsed, record, strict_allow_default=True)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise CodecError(f"cannot encode record as {schema.name}: {exc}") from exc
    return buf.getvalue()


def read_fingerprint(data: bytes) -> bytes:
    """Checks the single-object header and returns the writer schema's 8 fingerprint bytes."""
    magic = data[: len(MAGIC)]
    if magic != MAGIC[: len(magic)]:
        raise BadMagicError(
            f"bad magic {magic.hex()}: expected c301, the Avro single-object marker; "
            "this is not a single-object encoded message"
        )
    if len(data) < HEADER_SIZE:
        raise TruncatedMessageError(
            f"truncated message: {len(data)} bytes, the single-object header alone is {HEADER_SIZE}"
        )
    return bytes(data[len(MAGIC) : HEADER_SIZE])


def decode(
    data: bytes,
    *,
    writer_lookup: Callable[[bytes], AvroSchema | None],
    reader_schema: AvroSchema | None = None,
) -> dict[str, Any]:
    """Decodes one single-object message into a record dict.

    ``writer_lookup`` gets the 8 fingerprint bytes and returns the writer schema, or ``None`` or
    raises ``LookupError`` when it does not know it (``SchemaStore.by_fingerprint`` fits).
    With ``reader_schema`` the data is resolved to that schema (fields added with defaults are
    filled in, removed ones dropped); without it the record comes back as written.
    """
    fp = read_fingerprint(data)
    try:
        writer = writer_lookup(fp)
    except LookupError:
        writer = None
    if writer is None:
        raise UnknownSchemaError(fp)
    return _decode_body(data, fp, writer, reader_schema)


def _decode_body(
    data: bytes, fp: bytes, writer: AvroSchema, reader_schema: AvroSchema | None, plain: _PlainReader | None = None
) -> dict[str, Any]:
    """``decode`` once the header is read and the writer schema found; with ``plain`` (for a writer read as it is)
    its top-level logical types are converted here instead of by fastavro."""
    if reader_schema is None or reader_schema.fingerprint == writer.fingerprint:
        reader = None
    else:
        reader = reader_schema.parsed
        plain = None
    buf = io.BytesIO(data)
    buf.seek(HEADER_SIZE)
    try:
        if plain is not None:
            record = schemaless_reader(buf, plain.parsed, None)
            if isinstance(record, dict):  # always: a plain reader is made for records only
                for name, convert in plain.conversions:
                    value = record[name]
                    if value is not None:
                        record[name] = convert(value)
        else:
            record = schemaless_reader(buf, writer.parsed, reader)
    except EOFError as exc:
        raise TruncatedMessageError(f"truncated {writer.name} message ({fp.hex()}): {exc}") from exc
    except SchemaResolutionError as exc:
        reader_name = f"{reader_schema.name} ({reader_schema.fingerprint_hex})" if reader_schema else "?"
        raise CodecError(
            f"reader schema {reader_name} cannot read data written with {writer.name} ({fp.hex()}): {exc}"
        ) from exc
    except (ValueError, UnicodeDecodeError, IndexError, OverflowError) as exc:
        raise CodecError(f"corrupt {writer.name} body ({fp.hex()}): {exc}") from exc
    if buf.tell() != len(data):
        raise CodecError(
            f"{len(data) - buf.tell()} bytes left after the {writer.name} body ({fp.hex()}): "
            "corrupt message or wrong writer schema"
        )
    if not isinstance(record, dict):
        raise CodecError(f"writer schema {writer.name} is not a record; events are records")
    return record


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1).toordinal()


def _date_of(days: int) -> date:
    return date.fromordinal(days + _EPOCH_DAY)


def _timestamp_of(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid_text(text: str) -> str:
    """A ``uuid`` field kept as text: ``str(UUID(text))`` (the canonical form, or the ``ValueError`` of a text that is
    no UUID), without making the ``UUID`` when the text is already canonical."""
    return text if _CANONICAL_UUID.fullmatch(text) else str(UUID(text))


_LOGICAL: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("int", "date"): _date_of,
    ("long", "timestamp-micros"): _timestamp_of,
    ("string", "uuid"): UUID,
}
"""The logical types (on their type) a ``_PlainReader`` converts itself, each to what fastavro's reader makes of it
(a ``date``, an aware UTC ``datetime``, a ``UUID``); any other is left to fastavro."""


@dataclass(frozen=True, slots=True)
class _PlainReader:
    """A writer schema whose top-level fields are read without their logical types, then converted by
    ``conversions`` (field, function): fastavro's per-value conversion of these costs a third of a typical event's
    decoding, the calls here a few tenths of a microsecond each. A ``uuid`` field in ``as_text`` comes as the
    ``str`` of its ``UUID`` (an ``event_id`` a caller only wants as text), made only for a text not in the
    canonical form already. Nested logical types are left to fastavro. ``tests/unit/test_codec.py`` holds the
    records to fastavro's own for every event type."""

    parsed: Any
    conversions: tuple[tuple[str, Callable[[Any], Any]], ...]

    @classmethod
    def of(cls, schema: AvroSchema, as_text: frozenset[str]) -> _PlainReader | None:
        """None for a schema that is not a record (nothing to gain)."""
        source = schema.source
        if not isinstance(source, Mapping) or source.get("type") != "record":
            return None
        fields: list[Any] = []
        conversions: list[tuple[str, Callable[[Any], Any]]] = []
        for f in source["fields"]:
            kind = f["type"]
            nullable = isinstance(kind, list) and len(kind) == 2 and kind[0] == "null"
            inner = kind[1] if nullable else kind
            logical = (inner.get("type"), inner.get("logicalType")) if isinstance(inner, Mapping) else None
            convert = _LOGICAL.get(logical) if logical is not None else None  # type: ignore[arg-type]
            if convert is not None:
                plain = inner["type"]
                f = {**f, "type": ["null", plain] if nullable else plain}
                if f["name"] in as_text:
                    if convert is UUID:  # the others have no text to keep
                        conversions.append((f["name"], _uuid_text))
                else:
                    conversions.append((f["name"], convert))
            fields.append(f)
        return cls(parse_schema({**source, "fields": fields}), tuple(conversions))


class SchemaStore:
    """Every known schema, by fingerprint (to decode) and by name (the newest, to encode).

    ``by_fingerprint`` keeps the first schema added for a fingerprint: schemas that differ only
    in docs or defaults share a fingerprint, and any of them reads the writer's bytes the same.
    ``latest(name)`` is the schema added last under that name.
    """

    def __init__(self, schemas: Iterable[AvroSchema | SchemaJSON] = ()) -> None:
        self._by_fingerprint: dict[bytes, AvroSchema] = {}
        self._latest: dict[str, AvroSchema] = {}
        self._full_names: dict[str, set[str]] = {}
        self._plain: dict[tuple[bytes, frozenset[str]], _PlainReader | None] = {}  # ``decode_plain``'s, made once
        for schema in schemas:
            self.add(schema)

    @classmethod
    def from_directory(cls, directory: Path) -> SchemaStore:
        """Loads a schema folder: ``history/<Event>/v1.avsc, v2.avsc, ...`` in version order,
        then ``<Event>.avsc`` (the current versions), so ``latest`` gives the current ones."""
        store = cls()
        history = directory / "history"
        if history.is_dir():
            for event_dir in sorted(p for p in history.iterdir() if p.is_dir()):
                for _, path in sorted(_numbered_versions(event_dir)):
                    store.add(AvroSchema.load(path))
        for path in sorted(directory.glob("*.avsc")):
            store.add(AvroSchema.load(path))
        return store

    def add(self, schema: AvroSchema | SchemaJSON) -> AvroSchema:
        """Adds a schema (parsed, or JSON as read from a file or the schemas topic); returns it."""
        parsed = _as_schema(schema)
        self._by_fingerprint.setdefault(parsed.fingerprint, parsed)
        self._latest[parsed.name] = parsed
        self._full_names.setdefault(parsed.name.rsplit(".", 1)[-1], set()).add(parsed.name)
        return parsed

    def by_fingerprint(self, fingerprint: bytes | int | str) -> AvroSchema:
        """The schema with this fingerprint (8 wire bytes, header hex, or Java long).

        Raises ``UnknownSchemaError`` (a ``LookupError``) when there is none.
        """
        fp = fingerprint_bytes(fingerprint)
        try:
            return self._by_fingerprint[fp]
        except KeyError:
            raise UnknownSchemaError(fp) from None

    def latest(self, name: str) -> AvroSchema:
        """The schema added last under a full name, or under a simple name if only one has it."""
        if name in self._latest:
            return self._latest[name]
        full_names = self._full_names.get(name, set())
        if len(full_names) == 1:
            return self._latest[next(iter(full_names))]
        if full_names:
            raise LookupError(f"schema name {name!r} is ambiguous: {', '.join(sorted(full_names))}")
        raise LookupError(f"no schema named {name!r}")

    def decode_current(self, data: bytes) -> dict[str, Any]:
        """Decodes one single-object message as the CURRENT version of its schema: a message written
        with an earlier version is resolved to the newest one of the same name (fields added since
        come with their defaults), so a reader never sees an old shape (FULL_TRANSITIVE: new readers
        read all old data)."""
        fp, writer = self._writer(data)  # read and looked up once, not again by ``decode``
        return _decode_body(data, fp, writer, self._latest[writer.name])  # ``add`` filed it under its name too

    def decode_plain(self, data: bytes, *, as_text: frozenset[str] = frozenset()) -> dict[str, Any]:
        """``decode_current``, the top-level logical types converted here, not by fastavro (``_PlainReader``): the
        same record, in two thirds of the time; a ``uuid`` field in ``as_text`` as the ``str`` of its ``UUID``."""
        fp, writer = self._writer(data)
        key = (fp, as_text)
        plain = self._plain.get(key)
        if plain is None and key not in self._plain:
            plain = self._plain[key] = _PlainReader.of(writer, as_text)
        return _decode_body(data, fp, writer, self._latest[writer.name], plain)

    def _writer(self, data: bytes) -> tuple[bytes, AvroSchema]:
        """The message's fingerprint and its writer schema (``UnknownSchemaError`` when none is known)."""
        fp = read_fingerprint(data)
        writer = self._by_fingerprint.get(fp)
        if writer is None:
            raise UnknownSchemaError(fp)
        return fp, writer

    def __contains__(self, fingerprint: object) -> bool:
        if not isinstance(fingerprint, bytes | int | str):
            return False
        try:
            return fingerprint_bytes(fingerprint) in self._by_fingerprint
        except ValueError:
            return False

    def __iter__(self) -> Iterator[AvroSchema]:
        return iter(self._by_fingerprint.values())

    def __len__(self) -> int:
        return len(self._by_fingerprint)


def _numbered_versions(event_dir: Path) -> Iterator[tuple[int, Path]]:
    for path in event_dir.iterdir():
        match = _VERSION_FILE.fullmatch(path.name)
        if match is None:
            raise CodecError(f"{path}: history files are named v1.avsc, v2.avsc, ...")
        yield int(match.group(1)), path
