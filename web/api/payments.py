"""Bank files in and the money worklists (ADR 0019).

- ``POST /payments/files``: one bank file as the raw body (``application/octet-stream``, or the format's own
  type) or as the ``file`` part of ``multipart/form-data``; ``?format=ocr|camt054|bgmax`` (default:
  recognised). The same import as `kravsak payments import`. Who may: a caseworker or office lead, and the
  office's bank integration (client credentials, role ``bank_integration`` with its ``office``) — for files
  paying into accounts of their own office's creditors only: a file naming another office's account is
  refused (403) and nothing is stored. A file that cannot be read is 422 naming the line or element.
  Importing the same file again changes nothing (the summary says ``already_imported``).
- ``GET /payments/suspense?creditor=``: money no claim carries (the caseworker's worklist).
- ``GET /refunds?creditor=&state=``: the refund worklist.

Both lists: caseworkers and office leads of the creditor's office, auditors.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Annotated, Any

import psycopg
import structlog
from fastapi import APIRouter, Depends, Query, Request

from domain.errors import CommandRefused
from domain.money import fmt
from intake.accounts import OfficeAccount, OfficeAccounts
from intake.errors import BankFileError
from intake.importer import ImportConflict, import_file
from intake.payers import PgPayers
from web.access import CASEWORK, OFFICE_READERS, Access, forbidden
from web.api.deps import access_of
from web.auth import Role
from web.problems import Problem, from_refusal, invalid_field

log = structlog.get_logger("kravsak.web")
AccessDep = Annotated[Access, Depends(access_of)]
UPLOADERS = CASEWORK | {Role.BANK_INTEGRATION}
FORMATS = ("ocr", "camt054", "bgmax")


def _office_accounts(access: Access) -> tuple[OfficeAccounts, OfficeAccounts]:
    """(every account of the office, the principal's office's accounts)."""
    loader = access.services.config.bank_accounts
    if loader is None:
        raise Problem("unavailable", "no office accounts are configured", status=503, rule="KRAVSAK_LETTERHEADS")
    everything: OfficeAccounts = loader(access.services.config.today())
    office = access.principal.office
    mine = set(access.services.creditors_of(office)) if office else set()
    own = OfficeAccounts(
        OfficeAccount(a, c) for c in sorted(everything.creditors() & mine) for a in everything.accounts_of(c)
    )
    return everything, own


async def _spool(request: Request, folder: Path) -> Path:
    """The body (or its multipart ``file`` part) on disk; the middleware has limited its size."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    target = folder / "upload"
    if media == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise invalid_field("file", "send the bank file as the multipart part named 'file'")
        with target.open("wb") as out:
            while chunk := await upload.read(1 << 20):
                out.write(chunk)
        return target
    with target.open("wb") as out:
        async for chunk in request.stream():
            out.write(chunk)
    return target


def _import(access: Access, path: Path, file_format: str | None) -> dict[str, Any]:
    services = access.services
    everything, own = _office_accounts(access)
    try:
        with services.app() as app, psycopg.connect(services.config.pg_dsn, autocommit=True) as conn:
            report = import_file(
                app, path, on=services.config.today(), by=access.principal.id, accounts=own, file_format=file_format,
                payers=PgPayers(conn),
            )  # fmt: skip
    except BankFileError as e:
        if e.field == "payee account" and "not one of this office's accounts" in e.rule:
            foreign = [a for a in re.findall(r"[A-Z]{2}\d{2}[A-Z0-9]+|\d{7,}", e.rule) if everything.find(a)]
            if foreign or not own:
                raise forbidden(str(e), "upload files paying into your own office's accounts") from None
        raise Problem("invalid_input", str(e), status=422, field=e.field, rule=e.rule) from None
    except CommandRefused as e:
        raise from_refusal(e) from None
    except ImportConflict as e:
        raise Problem("conflict", str(e), status=409, rule="send the file again: the import goes on") from None
    data = report.as_json()
    data["file"] = None  # the server's spool path means nothing to the caller
    log.info("payments.file_imported", digest=report.digest, format=report.file_format, **report.counts)
    return data


def router() -> APIRouter:
    r = APIRouter(tags=["payments"])

    @r.post("/payments/files", summary="Import a bank file (OCR giro, camt.054, BgMax)")
    async def upload(
        request: Request,
        access: AccessDep,
        file_format: Annotated[str | None, Query(alias="format", description="ocr, camt054 or bgmax")] = None,
    ) -> dict[str, Any]:
        from starlette.concurrency import run_in_threadpool

        access.require(UPLOADERS, "uploading a bank file")
        if access.principal.office is None:
            raise forbidden("the token names no office", "caseworkers and bank integrations act for an office")
        if file_format is not None and file_format not in FORMATS:
            raise invalid_field("format", f"one of {', '.join(FORMATS)} (or leave it out)")
        with tempfile.TemporaryDirectory(prefix="kravsak-upload-") as scratch:
            path = await _spool(request, Path(scratch))
            if os.path.getsize(path) == 0:
                raise invalid_field("body", "the bank file is empty")
            return await run_in_threadpool(_import, access, path, file_format)

    @r.get("/payments/suspense", summary="Money in suspense: the caseworker's worklist")
    def suspense(access: AccessDep, creditor: Annotated[str, Query(pattern=r"^\d{4}$")]) -> dict[str, Any]:
        _check_creditor(access, creditor)
        with access.services.app() as app:
            account = app.suspense(creditor)
            items = account.open_items() if account is not None else []
        return {
            "creditor": creditor,
            "items": [
                {
                    "reference": i.reference,
                    "amount": fmt(i.amount),
                    "ordered": i.ordered.isoformat(),
                    "received": i.received_on.isoformat(),
                    "source": i.source,
                    "refund_requested": i.refund is not None,
                }
                for i in items
            ],  # fmt: skip
        }

    @r.get("/refunds", summary="The refund worklist")
    def refunds(
        access: AccessDep,
        creditor: Annotated[str, Query(pattern=r"^\d{4}$")],
        state: Annotated[str | None, Query(pattern=r"^(requested|approved|rejected|paid_out)$")] = None,
    ) -> dict[str, Any]:
        _check_creditor(access, creditor)
        with access.services.app() as app:
            found = [r for r in app.refunds(creditor) if state is None or r.state.value == state]
        return {
            "creditor": creditor,
            "refunds": [
                {
                    "number": r.number,
                    "state": r.state.value,
                    "source": r.source.value,
                    "invoice": r.invoice,
                    "reference": r.reference,
                    "amount": fmt(r.amount),
                    "currency": r.currency,
                    "requested_by": r.requested_by,
                    "requested_on": r.requested_on.isoformat(),
                    "approved_by": r.approved_by,
                    "message_id": r.message_id,
                }
                for r in found
            ],  # fmt: skip
        }

    return r


def _check_creditor(access: Access, creditor: str) -> None:
    access.require(OFFICE_READERS, "the money worklists")
    allowed = access.office_creditors()
    if allowed is not None and creditor not in allowed:
        raise forbidden(f"creditor {creditor} is not your office's", "caseworkers see their own office's creditors")
