"""Nobody gets into the local PostgreSQL without a key, and every service only where it belongs (ADR 0027)."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from kravsak import local_secrets
from kravsak.settings import Settings
from kravsak.stack import ServiceState
from kravsak.stack.postgres import LocalPostgres
from kravsak.stack.tls import ensure_ca

pytestmark = pytest.mark.integration


@pytest.fixture
def local(settings: Settings, stack: list[ServiceState]) -> LocalPostgres:
    if settings.pg_is_external:
        pytest.skip("checks the local stack's PostgreSQL")
    return LocalPostgres(settings)


def _with(dsn: str, **changes: str) -> str:
    return make_conninfo(dsn, **changes)


def _refused(dsn: str) -> str:
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(dsn, connect_timeout=5).close()
    return str(refused.value)


def test_the_passwords_are_generated_into_a_file_only_its_owner_reads(local: LocalPostgres, settings: Settings) -> None:
    path = local_secrets.secrets_file(settings.home)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert conninfo_to_dict(settings.pg_dsn)["password"] == local_secrets.password(settings.home, "pg:kravsak")


def test_pg_hba_has_no_trust_line_and_refuses_the_superuser_over_tcp(local: LocalPostgres) -> None:
    lines = [line.split() for line in (local.data_dir / "pg_hba.conf").read_text().splitlines()]
    rules = [line for line in lines if line and not line[0].startswith("#")]

    assert rules and all(rule[-1] in ("scram-sha-256", "reject") for rule in rules)
    assert not any("trust" in rule for rule in rules)


def test_a_wrong_password_is_refused(local: LocalPostgres, settings: Settings) -> None:
    message = _refused(_with(settings.pg_dsn, password="kravsak"))

    assert "password authentication failed" in message


def test_the_superuser_is_refused_over_tcp_even_with_its_password(local: LocalPostgres, settings: Settings) -> None:
    password = local_secrets.password(settings.home, "pg:postgres")
    message = _refused(_with(settings.pg_dsn, user="postgres", password=password, dbname="postgres"))

    assert "rejects connection" in message or "no pg_hba.conf entry" in message
    with psycopg.connect(local.superuser_dsn(), connect_timeout=5) as conn:  # the socket is its only way in
        assert conn.execute("SELECT current_setting('is_superuser')").fetchone() == ("on",)


def test_the_reader_reads_but_cannot_insert(local: LocalPostgres, settings: Settings) -> None:
    with psycopg.connect(settings.for_service("reader").pg_dsn, autocommit=True) as conn:
        conn.execute("SELECT count(*) FROM collectionapp_events").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO kravsak_publisher_position (name, position) VALUES ('forged', 1)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE SCHEMA kravsak_reader_was_here")


def _forge(conn: psycopg.Connection[object]) -> None:
    """Append a made-up event to the event store (what a role without the writer's rights must not do)."""
    conn.execute(
        "INSERT INTO collectionapp_events (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)",
        (str(uuid.uuid4()), 1, "domain.claim:Claim.Paid", b"{}"),
    )


def test_the_projector_cannot_write_the_event_store(local: LocalPostgres, settings: Settings) -> None:
    with psycopg.connect(settings.for_service("projector").pg_dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _forge(conn)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM collectionapp_events")


def test_no_role_changes_a_stored_event_not_even_the_owner(local: LocalPostgres, settings: Settings) -> None:
    for dsn in (settings.for_service("writer").pg_dsn, settings.pg_dsn):
        with psycopg.connect(dsn, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="stored events are immutable"):
                conn.execute("UPDATE collectionapp_events SET topic = topic WHERE false")
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="immutable|permission denied"):
                conn.execute("DELETE FROM collectionapp_events WHERE false")


def test_tls_with_verify_full_against_the_local_ca(local: LocalPostgres, settings: Settings) -> None:
    dsn = _with(settings.pg_dsn, sslmode="verify-full", sslrootcert=str(settings.local_ca_file))
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()

    assert row is not None and row[0] is True and row[1].startswith("TLSv1.")


def test_tls_without_the_ca_is_refused(local: LocalPostgres, settings: Settings, tmp_path: Path) -> None:
    ensure_ca(tmp_path)  # another CA: the server's certificate does not chain to it
    message = _refused(_with(settings.pg_dsn, sslmode="verify-full", sslrootcert=str(tmp_path / "tls" / "ca.crt")))

    assert "certificate verify failed" in message


def _ledger_claims(settings: Settings) -> str:
    """The ledger's claims table (made as the projector makes it, if no projector ran on this stack yet)."""
    from projections.base import schema_name
    from projections.ledger import Ledger

    schema = schema_name("ledger")
    with psycopg.connect(settings.for_service("projector").pg_dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        Ledger().create_tables(cur, schema)
    return f'"{schema}".claims'


def test_the_read_only_commands_connect_as_the_reader_who_cannot_write_events_or_read_models(
    local: LocalPostgres, settings: Settings
) -> None:
    claims = _ledger_claims(settings)
    for command in ("status", "health", "trail", "settlement"):
        assert settings.for_command(command).pg_role == "kravsak_reader", command
    assert settings.for_command("verify").pg_role == "kravsak_projector"  # rebuilds aside, as the projector
    assert settings.for_command("publisher").pg_role == "kravsak"  # an operator's command: the owner's
    with psycopg.connect(settings.for_command("trail").pg_dsn, autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("kravsak_reader",)
        conn.execute(f"SELECT count(*) FROM {claims}").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _forge(conn)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"UPDATE {claims} SET paid = paid WHERE false")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO kravsak_personal.notes (subject, ref, sealed) VALUES ('x', 'y', '')")


def test_the_api_connects_as_its_own_role_keeps_notes_and_cannot_write_read_models(
    local: LocalPostgres, settings: Settings
) -> None:
    from datetime import date

    from kravsak.serve import web_config
    from web.services import Services

    claims = _ledger_claims(settings)
    api = settings.for_command("serve")
    assert api.pg_role == "kravsak_api"
    services = Services(web_config(api, namespace=uuid.uuid4(), today=lambda: date(2025, 1, 2)))
    services.start()  # its own schema, its domain applications
    try:
        assert services.notes is not None
        subject = f"test-subject-{uuid.uuid4()}"
        services.notes.keep(subject, "case/cmd", "a reason a person wrote")
        assert services.notes.read(subject, ["case/cmd"]) == {"case/cmd": "a reason a person wrote"}
        with services.cursor() as cur:
            assert cur.execute("SELECT current_user").fetchone() == ("kravsak_api",)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                cur.execute(f"DELETE FROM {claims} WHERE false")
        with services.cursor() as cur:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                cur.execute("DELETE FROM kravsak_personal.debtors WHERE false")
    finally:
        services.close()
        with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM kravsak_personal.notes WHERE subject LIKE 'test-subject-%'")
            conn.execute("DELETE FROM kravsak_personal.data_keys WHERE debtor_id LIKE 'test-subject-%'")
