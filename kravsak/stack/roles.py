"""Least-privilege PostgreSQL roles of the local stack (ADR 0027).

The owner ``kravsak`` owns the database and the event store; it is the migrations' and the CLI's
role, and a member of every service role (so it can read and drop what they made). Each service
connects as its own role (``Settings.for_service``):

| role | may |
|---|---|
| ``kravsak_reader`` | read every table (default privileges), write nothing |
| ``kravsak_writer`` | the reader's, plus append events: SELECT, INSERT (and UPDATE, see below) on ``*_events`` |
| ``kravsak_publisher`` | the reader's, plus its position table |
| ``kravsak_projector`` | the reader's, plus its own projection schemas (it creates and owns them) |
| ``kravsak_automate`` | the writer's, plus its own schema (worklist, alerts, clocks) |
| ``kravsak_api`` | the writer's, its own ``kravsak_web``, the personal store's keys and notes (ADR 0028) |

eventsourcing's ``LOCK TABLE … IN EXCLUSIVE MODE`` needs UPDATE, so the writer holds it; a trigger on
every ``*_events`` table refuses UPDATE, DELETE and TRUNCATE of a stored event, whoever asks.
Neither the projector nor the reader can write the event store; no service can change a stored event.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from kravsak.settings import LOCAL_PG_USER, PG_SERVICE_ROLES, eventsourcing_env

READER, WRITER = PG_SERVICE_ROLES["reader"], PG_SERVICE_ROLES["writer"]
PUBLISHER, PROJECTOR = PG_SERVICE_ROLES["publisher"], PG_SERVICE_ROLES["projector"]
AUTOMATE = PG_SERVICE_ROLES["automate"]
API = PG_SERVICE_ROLES["api"]

IMMUTABLE_FUNCTION = "kravsak_stored_events_are_immutable"
RELEASE_FUNCTION = "kravsak_only_the_owner_releases"
"""Refuses a held case's release asked by any role but the owner's (ADR 0028): the publisher writes its held
table, but only the operator holding the owner's secret may ask for a release (`kravsak publisher release`)."""


def grant_roles(conn: psycopg.Connection[Any], dbname: str) -> None:
    """Memberships, database rights and default privileges; run by the superuser at every `up`."""
    ident = sql.Identifier
    services = [ident(role) for role in PG_SERVICE_ROLES.values()]
    statements: list[sql.Composable] = [
        sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident(dbname)),
        sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(ident(dbname), sql.SQL(", ").join(services)),
        # They create their own schemas (CREATE SCHEMA IF NOT EXISTS) and own what they create.
        sql.SQL("GRANT CREATE ON DATABASE {} TO {}, {}, {}, {}").format(
            ident(dbname), ident(PUBLISHER), ident(PROJECTOR), ident(AUTOMATE), ident(API)
        ),
        sql.SQL("GRANT {} TO {}").format(sql.SQL(", ").join(services), ident(LOCAL_PG_USER)),
        sql.SQL("GRANT {} TO {}, {}, {}").format(ident(READER), ident(WRITER), ident(PUBLISHER), ident(PROJECTOR)),
        sql.SQL("GRANT {} TO {}, {}").format(ident(WRITER), ident(AUTOMATE), ident(API)),
        sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident(READER)),
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(ident(READER)),
    ]
    creators = sql.SQL(", ").join(ident(r) for r in (LOCAL_PG_USER, PUBLISHER, PROJECTOR, AUTOMATE, API))
    statements += [
        sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} GRANT SELECT ON TABLES TO {}").format(creators, ident(READER)),
        sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} GRANT USAGE ON SCHEMAS TO {}").format(creators, ident(READER)),
    ]
    for statement in statements:
        conn.execute(sql.Composed([statement]))
    _event_store_functions(conn)
    _hand_over_schemas(conn)
    _operations_schema(conn)
    _personal_schema(conn)


API_PERSONAL_WRITES = ("data_keys", "notes")
"""The personal store's tables the API writes: a debtor's key (made for a first message or note) and the notes."""


def _personal_schema(conn: psycopg.Connection[Any]) -> None:
    """``kravsak_personal`` (ADR 0014): the owner's, made here so that no service needs to make it; the API may
    add debtors' keys and notes (ADR 0028), the reader reads (sealed values only: the master key is not in it)."""
    from personal.register import SCHEMA, ensure_schema

    ensure_schema(conn, SCHEMA)
    ident = sql.Identifier
    conn.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(ident(SCHEMA), ident(LOCAL_PG_USER)))
    tables = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = 'r'",
        (SCHEMA,),
    ).fetchall()
    for (table,) in tables:
        conn.execute(sql.SQL("ALTER TABLE {}.{} OWNER TO {}").format(ident(SCHEMA), ident(table), ident(LOCAL_PG_USER)))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}, {}").format(ident(SCHEMA), ident(READER), ident(API)))
    conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(ident(SCHEMA), ident(READER)))
    for table in API_PERSONAL_WRITES:
        conn.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE ON {}.{} TO {}").format(ident(SCHEMA), ident(table), ident(API))
        )


def _operations_schema(conn: psycopg.Connection[Any]) -> None:
    """``kravsak_ops`` (the services' heartbeats, ADR 0026): the owner's, each service writes its own rows, the
    reader reads them (`kravsak status`, `kravsak health`)."""
    from consumers.heartbeat import SCHEMA, TABLE, ensure_table

    ensure_table(conn)
    ident = sql.Identifier
    services = sql.SQL(", ").join(ident(r) for r in (PUBLISHER, PROJECTOR, AUTOMATE))
    for statement in (
        sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(ident(SCHEMA), ident(LOCAL_PG_USER)),
        sql.SQL("ALTER TABLE {}.{} OWNER TO {}").format(ident(SCHEMA), ident(TABLE), ident(LOCAL_PG_USER)),
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}, {}").format(ident(SCHEMA), services, ident(READER)),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {}.{} TO {}").format(ident(SCHEMA), ident(TABLE), services),
        sql.SQL("GRANT SELECT ON {}.{} TO {}").format(ident(SCHEMA), ident(TABLE), ident(READER)),
    ):
        conn.execute(statement)


def _families() -> list[tuple[str, str]]:
    """(schema prefix, role): the schemas a service writes, longest prefix first."""
    from consumers.automate import SCHEMA as AUTOMATE_SCHEMA
    from consumers.projector import CASES_SCHEMA, projection_names
    from kravsak import wiring  # noqa: F401 - the edges' read models count as projections
    from projections.base import schema_name
    from web.store import SCHEMA as WEB_SCHEMA

    owners = [(AUTOMATE_SCHEMA, AUTOMATE), (CASES_SCHEMA, PROJECTOR), (WEB_SCHEMA, API)]
    owners += [(schema_name(name), PROJECTOR) for name in projection_names()]
    return sorted(owners, key=lambda o: -len(o[0]))


def _hand_over_schemas(conn: psycopg.Connection[Any]) -> None:
    """Schemas a service writes that the owner makes (the CLI's `kravsak clock --set`, a test in-process,
    a stack from before ADR 0027) go to that service's role, tables and all, so its CREATE … IF NOT EXISTS
    statements pass: now for what exists, and by an event trigger for what the owner makes later."""
    families = _families()
    rows = conn.execute(
        "SELECT nspname FROM pg_namespace WHERE pg_get_userbyid(nspowner) = %s", (LOCAL_PG_USER,)
    ).fetchall()
    for (schema,) in rows:
        role = next((r for prefix, r in families if _is_family(schema, prefix)), None)
        if role is None:  # the owner's own: the reader reads what was there before the default privileges
            conn.execute(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), sql.Identifier(READER))
            )
            conn.execute(
                sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
                    sql.Identifier(schema), sql.Identifier(READER)
                )
            )
            continue
        conn.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(schema), sql.Identifier(role)))
        objects = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm') AND pg_get_userbyid(c.relowner) = %s",
            (schema, LOCAL_PG_USER),
        ).fetchall()
        for (name,) in objects:
            conn.execute(
                sql.SQL("ALTER TABLE {}.{} OWNER TO {}").format(
                    sql.Identifier(schema), sql.Identifier(name), sql.Identifier(role)
                )
            )
    cases = sql.SQL(" ").join(
        sql.SQL("WHEN s = {} OR starts_with(s, {}) THEN {}").format(
            sql.Literal(prefix), sql.Literal(prefix + "_"), sql.Literal(role)
        )
        for prefix, role in families
    )
    conn.execute(
        sql.SQL(
            "CREATE OR REPLACE FUNCTION public.kravsak_service_of(s text) RETURNS text LANGUAGE sql IMMUTABLE "
            "AS $$ SELECT CASE {} END $$"
        ).format(cases)
    )
    conn.execute(HAND_OVER_FUNCTION)
    conn.execute("DROP EVENT TRIGGER IF EXISTS kravsak_hand_over")
    conn.execute(
        "CREATE EVENT TRIGGER kravsak_hand_over ON ddl_command_end "
        "WHEN TAG IN ('CREATE SCHEMA', 'CREATE TABLE') EXECUTE FUNCTION public.kravsak_hand_over()"
    )


HAND_OVER_FUNCTION = """
CREATE OR REPLACE FUNCTION public.kravsak_hand_over() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    obj record;
    target text;
BEGIN
    FOR obj IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
        IF obj.object_type = 'schema' THEN
            target := public.kravsak_service_of((SELECT nspname FROM pg_namespace WHERE oid = obj.objid));
            IF target IS NOT NULL AND (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE oid = obj.objid)
                    = 'kravsak' THEN
                EXECUTE format('ALTER SCHEMA %s OWNER TO %I', obj.object_identity, target);
            END IF;
        ELSIF obj.object_type = 'table' AND EXISTS (
                SELECT 1 FROM pg_attribute a WHERE a.attrelid = obj.objid AND a.attname = 'originator_version'
            ) OR obj.object_type = 'table' AND obj.object_identity LIKE '%.kravsak_publisher_position'
              OR obj.object_type = 'table' AND obj.object_identity LIKE '%.kravsak_publisher_held' THEN
            PERFORM public.kravsak_grant_event_store(obj.schema_name);
        ELSIF obj.object_type = 'table' THEN
            target := public.kravsak_service_of(obj.schema_name);
            IF target IS NOT NULL AND (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = obj.objid)
                    = 'kravsak' THEN
                EXECUTE format('ALTER TABLE %s OWNER TO %I', obj.object_identity, target);
            END IF;
        END IF;
    END LOOP;
END $$
"""


def _is_family(schema: str, prefix: str) -> bool:
    """``kravsak_ledger`` and its suffixed runs (``kravsak_ledger_t1``, ``kravsak_ledger__next``)."""
    return schema == prefix or schema.startswith(prefix + "_")


def prepare_event_store(owner_dsn: str, schema: str) -> None:
    """The event store's tables in ``schema``, made by the owner, and the services' rights on them.
    Idempotent; `kravsak up` runs it for KRAVSAK_PG_SCHEMA, and so does every throw-away store."""
    from consumers.held import HeldTable
    from consumers.publisher import ensure_position_table
    from domain.application import CollectionApp

    with psycopg.connect(owner_dsn, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        app = CollectionApp(eventsourcing_env(owner_dsn, **({"POSTGRES_SCHEMA": schema} if schema != "public" else {})))
        app.close()
        ensure_position_table(conn, schema)
        HeldTable("", schema).create(conn)  # the owner's, so that only the owner asks for a release
        grant_event_store(conn, schema)


def grant_event_store(conn: psycopg.Connection[Any], schema: str) -> None:
    """The services' rights on the event store in ``schema`` (``kravsak_grant_event_store``, made by `up`)."""
    conn.execute("SELECT public.kravsak_grant_event_store(%s)", (schema,))


def _event_store_functions(conn: psycopg.Connection[Any]) -> None:
    from consumers.held import HELD_TABLE
    from consumers.publisher import POSITION_TABLE

    conn.execute(
        sql.SQL(
            "CREATE OR REPLACE FUNCTION public.{}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.release_requested AND NOT OLD.release_requested AND current_user <> {} THEN "
            "RAISE EXCEPTION 'only the owner (%) may ask for the release of a held case; % may not', {}, current_user "
            "USING ERRCODE = 'insufficient_privilege'; END IF; RETURN NEW; END $$"
        ).format(sql.Identifier(RELEASE_FUNCTION), sql.Literal(LOCAL_PG_USER), sql.Literal(LOCAL_PG_USER))
    )
    conn.execute(
        sql.SQL(
            "CREATE OR REPLACE FUNCTION public.{}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'stored events are immutable: % on %.% refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME "
            "USING ERRCODE = 'insufficient_privilege'; END $$"
        ).format(sql.Identifier(IMMUTABLE_FUNCTION))
    )
    conn.execute(
        sql.SQL(GRANT_EVENT_STORE_FUNCTION).format(
            reader=sql.Identifier(READER),
            writer=sql.Identifier(WRITER),
            publisher=sql.Identifier(PUBLISHER),
            position=sql.Literal(POSITION_TABLE),
            held=sql.Literal(HELD_TABLE),
            owner=sql.Identifier(LOCAL_PG_USER),
            release=sql.Identifier(RELEASE_FUNCTION),
            immutable=sql.Identifier(IMMUTABLE_FUNCTION),
        )
    )
    conn.execute("REVOKE ALL ON FUNCTION public.kravsak_grant_event_store(text) FROM PUBLIC")
    conn.execute(
        sql.SQL("GRANT EXECUTE ON FUNCTION public.kravsak_grant_event_store(text) TO {}").format(
            sql.Identifier(LOCAL_PG_USER)
        )
    )


GRANT_EVENT_STORE_FUNCTION = r"""
CREATE OR REPLACE FUNCTION public.kravsak_grant_event_store(s text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    t record;
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO {reader}, {writer}', s);
    EXECUTE format('GRANT USAGE, CREATE ON SCHEMA %I TO {publisher}', s);
    EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO {writer}', s);
    FOR t IN SELECT c.relname, EXISTS (
                SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'originator_version'
            ) AS stored, c.relname LIKE '%\_snapshots' AS snapshots
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = s AND c.relkind IN ('r', 'p') LOOP
        EXECUTE format('GRANT SELECT ON %I.%I TO {reader}', s, t.relname);
        IF t.relname = {position} THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %I.%I TO {publisher}', s, t.relname);
        ELSIF t.relname = {held} THEN
            -- the publisher holds and releases; only the owner asks for a release (ADR 0028)
            EXECUTE format('ALTER TABLE %I.%I OWNER TO {owner}', s, t.relname);
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I.%I TO {publisher}', s, t.relname);
            EXECUTE format('DROP TRIGGER IF EXISTS kravsak_release ON %I.%I', s, t.relname);
            EXECUTE format('CREATE TRIGGER kravsak_release BEFORE UPDATE ON %I.%I '
                           'FOR EACH ROW EXECUTE FUNCTION public.{release}()', s, t.relname);
        ELSIF t.relname LIKE '%\_commands' OR t.relname LIKE '%\_debtor\_claims' THEN
            -- the command log (ADR 0024): written in the events' transaction, never changed
            EXECUTE format('GRANT SELECT, INSERT ON %I.%I TO {writer}', s, t.relname);
        ELSIF t.stored AND t.snapshots THEN
            EXECUTE format('GRANT SELECT, INSERT ON %I.%I TO {writer}', s, t.relname);
        ELSIF t.stored THEN
            -- UPDATE only because eventsourcing locks the table IN EXCLUSIVE MODE; the trigger refuses every change
            EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %I.%I TO {writer}', s, t.relname);
            EXECUTE format('DROP TRIGGER IF EXISTS kravsak_immutable ON %I.%I', s, t.relname);
            EXECUTE format('CREATE TRIGGER kravsak_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON %I.%I '
                           'FOR EACH STATEMENT EXECUTE FUNCTION public.{immutable}()', s, t.relname);
        END IF;
    END LOOP;
END $$
"""
