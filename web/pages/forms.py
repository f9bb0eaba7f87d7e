"""Forms that give commands: the form's fields → the command's body → the API's own code path
(``web.api.commands.perform``, the ``COMMANDS`` table), and its answer → the page.

A refused form is shown again with what was typed and each error beside its field (a field the
error cannot be pinned on goes to the summary at the top). Every form carries a one-off key, the
command's ``Idempotency-Key``: a double click runs the command once, and a refused form gets a new
key with its errors.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from web.api.commands import COMMAND_BY_NAME, perform
from web.i18n import translations
from web.pages.core import User
from web.problems import Problem


def N_(text: str) -> str:
    """Marks a text for the catalogue; it is translated where it is shown."""
    return text


REFUSALS = {
    "invalid_input": N_("Something in the form is not right."),
    "unknown_invoice": N_("We cannot find that invoice."),
    "claim_closed": N_("The claim is already paid or written off."),
    "claim_written_down": N_("The claim is written down and under long-term monitoring; this step is not possible."),
    "time_barred": N_("The claim is time-barred: no collection step may be taken."),
    "debtor_deceased": N_("The debtor has died: report the claim to the estate instead."),
    "not_due": N_("The claim is not due yet."),
    "objection_pending": N_("An objection is pending: it must be decided first."),
    "claim_disputed": N_("The claim is disputed: only the court route remains."),
    "route_not_available": N_("This route is not available for the claim."),
    "missing_prerequisite": N_("A step that must come first is missing."),
    "deadline_too_short": N_("The deadline is shorter than the law allows."),
    "deadline_not_expired": N_("The previous deadline has not run out yet."),
    "forbidden": N_("You may not do this on this case."),
    "idempotency_key_reused": N_("The form was sent twice with different content. Please fill it in again."),
    "busy": N_("The system is busy. Please try again."),
    "concurrent_change": N_("The system is busy. Please try again."),  # another writer, every try: nothing stored
}
FIELD_ERRORS = {
    "missing": N_("Fill in this field."),
    "money": N_("Write an amount such as 1200.00."),
    "date": N_("Write a date such as 2025-03-15."),
    "int": N_("Write a whole number."),
    "choice": N_("Choose one of the options."),
    "text": N_("The text is too long or empty."),
}


@dataclass
class Outcome:
    ok: bool
    data: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # field → message (already translated); "" → summary
    replayed: bool = False


def new_key() -> str:
    return uuid.uuid4().hex


def _field_error(error: dict[str, Any], lang: str) -> tuple[str, str]:
    tr = translations(lang).gettext
    loc = [str(p) for p in error.get("loc", ()) if p not in ("body",)]
    name = ".".join(loc) or ""
    kind = str(error.get("type", ""))
    msg = str(error.get("msg", ""))
    if kind == "missing":
        text = tr(FIELD_ERRORS["missing"])
    elif "money" in msg or "decimal" in msg or "amount" in msg:
        text = tr(FIELD_ERRORS["money"])
    elif "date" in msg.lower():
        text = tr(FIELD_ERRORS["date"])
    elif kind.startswith("int") or kind in ("greater_than_equal", "less_than_equal"):
        text = tr(FIELD_ERRORS["int"]) if kind.startswith("int") else msg
    elif kind in ("literal_error", "enum"):
        text = tr(FIELD_ERRORS["choice"])
    elif kind.startswith("string") or kind.startswith("too_"):
        text = tr(FIELD_ERRORS["text"])
    else:
        text = msg.removeprefix("Value error, ")
    return name, text


def run(request: Request, user: User, name: str, fields: dict[str, Any], key: str) -> Outcome:
    """Give the command ``name`` with ``fields`` as the signed-in person, through the API's code path."""
    command = COMMAND_BY_NAME[name]
    t = translations(user.lang).gettext
    try:
        body = command.body.model_validate(fields)
    except ValidationError as e:
        errors: dict[str, str] = {}
        for err in e.errors():
            fname, text = _field_error(dict(err), user.lang)
            errors.setdefault(fname, text)
        return Outcome(False, errors=errors)
    try:
        stored, replayed = perform(request, command, body, key, user.access)
    except Problem as p:
        return Outcome(False, errors=_problem_errors(p.code, p.field, p.detail, t))
    payload = json.loads(stored.body)
    if stored.status == 200:
        return Outcome(True, data=payload, replayed=replayed)
    return Outcome(
        False, errors=_problem_errors(payload.get("code", ""), payload.get("field"), payload.get("detail", ""), t)
    )


def _problem_errors(code: str, fieldname: str | None, detail: str, t: Any) -> dict[str, str]:
    text = t(REFUSALS[code]) if code in REFUSALS else detail
    if code == "invalid_input" and detail:
        text = f"{text} ({detail})"
    return {(fieldname or ""): text}
