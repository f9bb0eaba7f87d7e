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


def test_the_projector_cannot_write_the_event_store(local: LocalPostgres, settings: Settings) -> None:
    forged = (str(uuid.uuid4()), 1, "domain.claim:Claim.Paid", b"{}")
    with psycopg.connect(settings.for_service("projector").pg_dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO collectionapp_events (originator_id, originator_version, topic, state) "
                "VALUES (%s, %s, %s, %s)",
                forged,
            )
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
