"""Commands: one endpoint per scenario command (FORMAT.md), built from ONE table, ``COMMANDS``.

Every command is ``POST /commands/<name>`` with the scenario step's arguments as a JSON body (plus
the ``creditor``, or for a debtor command the ``office``), recorded on the business clock's date.
The ``Idempotency-Key`` header is required: it is the command id (scoped to the caller), so a repeat
returns the first answer — stored in PostgreSQL, so after a restart too — and changes nothing; the
same key with another body is refused (422, ``idempotency_key_reused``).

Scenario commands run through ``domain.scenario.run_command``: the same checks and the same step
output as in a scenario file. A new scenario command is one ``Command(...)`` line here plus its body.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal

import structlog
from eventsourcing.persistence import RecordConflictError
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from domain.application import CollectionApp
from domain.claim import claim_id
from domain.errors import CommandRefused, ConcurrentChange
from domain.kid import InvalidKid
from domain.money import InvalidAmount
from domain.policy import CollectionPolicy
from domain.rules.parameters import ParameterError
from domain.scenario import run_command
from web.access import CASEWORK, DEBTOR_ACTS, Access, Target
from web.api import selfservice
from web.api.deps import access_of
from web.api.types import Body, Day, DebtorRef, Flag, FreeText, Identifier, InvoiceNo, Money, Municipality, Office, Word
from web.auth import Role
from web.problems import PROBLEM_JSON, Problem, from_refusal, invalid_field
from web.store import StoredResponse

log = structlog.get_logger("kravsak.web")

KEY_HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
CONFLICT_RETRIES = 3


# --- bodies --------------------------------------------------------------------------------------


class ClaimBody(Body):
    creditor: Municipality
    invoice: InvoiceNo


class IssueInvoice(ClaimBody):
    amount: Money
    due: Day
    claim_type: Word = "other"
    debtor: DebtorRef
    kid: Word | None = Field(
        None,
        description="the KID (NO) or OCR reference (SE) printed on the invoice (default: assigned)",
    )
    arose: Day | None = Field(None, description="the day the claim came into being, where not the due date (SE)")


class CreditInvoice(ClaimBody):
    amount: Money


class RegisterPayment(ClaimBody):
    amount: Money
    ordered: Day | None = Field(None, description="the day the payer's bank received the order (default: today)")
    designation: Word | None = Field(None, description="`principal`: the debtor's own allocation")


class SendNotice(ClaimBody):
    notice: Word = Field(description="NO: purring, inkassovarsel, betalingsoppfordring, varsel_4_18; SE: paminnelse, "
                                     "inkassokrav")  # fmt: skip
    deadline: Day | None = Field(None, description="default: the earliest lawful deadline")
    channel: Word | None = Field(None, description="default: chosen by the system")


class RegisterObjection(ClaimBody):
    received: Day | None = None
    text: Annotated[str, FreeText] = Field("", max_length=4000)


class ResolveObjection(ClaimBody):
    outcome: Literal["upheld", "maintained", "unfounded"]
    amount: Money | None = Field(None, description="credited when upheld (default: the whole principal)")


class GrantDeferral(ClaimBody):
    until: Day
    requested_by_debtor: Flag = True


class Installment(Body):
    due: Day
    amount: Money


class AgreePaymentPlan(ClaimBody):
    installments: list[Installment] = Field(min_length=1, max_length=240)


class RequestEnforcement(ClaimBody):
    route: Word


class RegisterJudgment(ClaimBody):
    decided: Day | None = None
    served: Day | None = Field(None, description="the day the judgment was served (default: decided)")


class PostponeDue(ClaimBody):
    until: Day = Field(description="SE uppskov: the new due date; interest and deadlines count from it")


class SuspendService(ClaimBody):
    service: Literal["water", "childcare"]


class AllocateSuspense(ClaimBody):
    reference: Word = Field(description="the payer's reference of the unmatched payment, as listed in suspense")


class CombinedBody(Body):
    creditor: Municipality
    invoices: list[InvoiceNo] = Field(min_length=2, max_length=100, description="claims of one debtor")


class SendCombinedNotice(CombinedBody):
    notice: Word
    deadline: Day | None = Field(None, description="default: the earliest lawful deadline")
    channel: Word | None = Field(None, description="default: chosen by the system")


class RequestCombinedEnforcement(CombinedBody):
    route: Word


class WriteOff(ClaimBody):
    reason: Literal["time_barred", "deceased", "bankruptcy", "uneconomic", "other"]


class WriteDown(ClaimBody):
    amount: Money
    reason: Word


class FileComplaint(ClaimBody):
    received: Day | None = None


class DecideComplaint(ClaimBody):
    outcome: Literal["breach", "no_breach"]


class DebtorBody(Body):
    office: Office
    debtor: DebtorRef


class RegisterDeath(DebtorBody):
    died: Day


class RegisterProklama(DebtorBody):
    published: Day


class RunPolicies(Body):
    creditor: Municipality
    invoices: list[InvoiceNo] = Field(min_length=1, max_length=1000)
    until: Day


class RegisterCreditor(Body):
    creditor: Municipality
    name: Annotated[str, FreeText] = Field(min_length=1, max_length=200)
    jurisdiction: Literal["NO", "SE"]
    office: Office
    kid_algorithm: Literal["MOD10", "MOD11"] = "MOD10"
    kid_length: int = Field(15, ge=6, le=25)


class PolicyStepBody(Body):
    after_days: int = Field(ge=0, le=3650)
    notice: Word | None = None
    deadline_days: int | None = Field(None, ge=0, le=365)
    enforce: Flag = False


class PolicyChange(Body):
    steps: list[PolicyStepBody] | None = Field(None, max_length=20)
    fees_enabled: Flag | None = None
    reminder_fee_agreed: Flag | None = None
    min_amount: Money | None = None
    lien_route: Word | None = None
    default_route: Word | None = None
    limitation_alert_days: int | None = Field(None, ge=0, le=3650)
    merge_claims: Flag | None = Field(
        None, description="samlesak: one letter / request for a debtor's claims due together"
    )
    monitoring_days_before_limitation: int | None = Field(
        None, ge=1, le=3650, description="long-term monitoring's step this many days before the limitation date"
    )


class ChangePolicy(Body):
    creditor: Municipality
    policy: PolicyChange


class RegisterDebtor(DebtorBody):
    kind: Literal["person", "organisation"]
    jurisdiction: Literal["NO", "SE"]
    national_id: Annotated[str, Identifier] | None = Field(
        None, max_length=20, description="never stored: only its keyed hash"
    )
    contact: dict[str, Flag] | None = None


# --- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    on: date
    command_id: str
    allow_synthetic_ids: bool = False


Run = Callable[[CollectionApp, Any, Context], dict[str, Any]]
After = Callable[[Access, CollectionApp, Any, dict[str, Any], Context], None]


def scenario_step(name: str) -> Run:
    """Run the body as the scenario step ``name`` (domain.scenario.run_command)."""

    def run(app: CollectionApp, body: Any, ctx: Context) -> dict[str, Any]:
        step = body.model_dump(exclude={"creditor", "office", "invoices"}, exclude_none=True)
        step = {k: (str(v) if k in ("amount",) else v) for k, v in step.items()}
        if "installments" in step:
            step["installments"] = [{"due": i["due"], "amount": str(i["amount"])} for i in step["installments"]]
        out = run_command(
            app,
            creditor=getattr(body, "creditor", None) or body.office,
            do=name,
            step={"on": ctx.on, **step},
            command_id=ctx.command_id,
            debtors=(body.debtor,) if getattr(body, "debtor", None) else (),
            invoices=tuple(getattr(body, "invoices", ())),
        )
        if isinstance(body, ClaimBody):
            out = {"case_id": str(claim_id(app.namespace, body.creditor, body.invoice)), **out}
        return out

    return run


def combined_step(name: str) -> Run:
    """One letter or request for several claims of one debtor: the scenario step ``name`` with
    ``invoices`` (ONE fee / court fee, on the first listed claim whose fee cap allows it)."""

    def run(app: CollectionApp, body: Any, ctx: Context) -> dict[str, Any]:
        step = body.model_dump(exclude={"creditor"}, exclude_none=True)
        out = run_command(app, creditor=body.creditor, do=name, step={"on": ctx.on, **step}, command_id=ctx.command_id)
        cases = [str(claim_id(app.namespace, body.creditor, invoice)) for invoice in body.invoices]
        return {"case_ids": cases, **out}

    return run


def _register_creditor(app: CollectionApp, body: RegisterCreditor, ctx: Context) -> dict[str, Any]:
    ident = app.register_creditor(
        creditor=body.creditor,
        name=body.name,
        jurisdiction=body.jurisdiction,
        on=ctx.on,
        command_id=ctx.command_id,
        office=body.office,
        kid_algorithm=body.kid_algorithm,
        kid_length=body.kid_length,
    )
    c = app.creditor(body.creditor)
    if c.office != body.office or c.name != body.name or c.jurisdiction != body.jurisdiction:
        raise invalid_field("creditor", f"creditor {body.creditor} is already registered with other data")
    return {"creditor_id": str(ident), "office": c.office}


def _change_policy(app: CollectionApp, body: ChangePolicy, ctx: Context) -> dict[str, Any]:
    current = app.creditor(body.creditor).policy
    change = body.policy.model_dump(exclude_none=True)
    if "min_amount" in change:
        change["min_amount"] = str(change["min_amount"])
    base = str(current["name"]).split(" (changed ", 1)[0]
    merged = {**current, **change, "name": f"{base} (changed {ctx.on})"}
    if body.policy.steps is not None:
        merged["steps"] = [step.model_dump() for step in body.policy.steps]
    policy = CollectionPolicy.from_dict(merged)
    app.change_policy(creditor=body.creditor, policy=policy, on=ctx.on, command_id=ctx.command_id)
    return {"policy": policy.as_dict()}


def _register_debtor(app: CollectionApp, body: RegisterDebtor, ctx: Context) -> dict[str, Any]:
    ident = app.register_debtor(
        office=body.office,
        ref=body.debtor,
        kind=body.kind,
        jurisdiction=body.jurisdiction,
        on=ctx.on,
        command_id=ctx.command_id,
        national_id=body.national_id,
        allow_synthetic=ctx.allow_synthetic_ids,
        contact=body.contact,
    )
    return {"debtor_id": str(ident)}


@dataclass(frozen=True)
class Command:
    name: str
    body: type[Body]
    roles: frozenset[Role]
    summary: str
    run: Run | None = None  # default: the scenario step of the same name
    scope: Literal["claim", "creditor", "office"] = "claim"
    tags: tuple[str, ...] = field(default=("commands",))
    after: After | None = None  # what the edge keeps of an accepted command besides its events

    def runner(self) -> Run:
        return self.run or scenario_step(self.name)


BILLING = CASEWORK | {Role.BILLING_SYSTEM}

COMMANDS: tuple[Command, ...] = (
    Command("issue_invoice", IssueInvoice, BILLING, "A municipal claim is invoiced"),
    Command("credit_invoice", CreditInvoice, BILLING, "Credit note: reduces the principal"),
    Command("register_payment", RegisterPayment, CASEWORK, "Money received"),
    Command("send_notice", SendNotice, CASEWORK, "A reminder, warning or demand is sent"),
    Command("register_objection", RegisterObjection, DEBTOR_ACTS, "The debtor disputes the claim"),
    Command("resolve_objection", ResolveObjection, CASEWORK, "An objection is decided"),
    Command("grant_deferral", GrantDeferral, CASEWORK, "Escalation pauses until a day"),
    Command("agree_payment_plan", AgreePaymentPlan, CASEWORK, "A written plan the debtor accepted"),
    Command("request_enforcement", RequestEnforcement, CASEWORK, "Court or enforcement route"),
    Command("register_judgment", RegisterJudgment, CASEWORK, "Judgment or utslag"),
    Command("postpone_due", PostponeDue, CASEWORK, "SE uppskov: the due date moves"),
    Command("suspend_service", SuspendService, CASEWORK, "SE: water shut off or a childcare place ended"),
    Command("allocate_suspense", AllocateSuspense, CASEWORK, "An unmatched payment is placed on a claim"),
    Command(
        "send_combined_notice",
        SendCombinedNotice,
        CASEWORK,
        "One letter for several claims of one debtor: one fee",
        run=combined_step("send_notice"),
        scope="creditor",
    ),
    Command(
        "request_combined_enforcement",
        RequestCombinedEnforcement,
        CASEWORK,
        "One request for several claims of one debtor: one court fee",
        run=combined_step("request_enforcement"),
        scope="creditor",
    ),
    Command("apply_reinstatement", ClaimBody, CASEWORK, "Återvinning applied for"),
    Command("report_to_estate", ClaimBody, CASEWORK, "The claim is reported to a deceased debtor's estate"),
    Command("write_off", WriteOff, CASEWORK, "The claim is written off"),
    Command("write_down", WriteDown, CASEWORK, "Written down in the accounts; stays under monitoring"),
    Command("file_complaint", FileComplaint, DEBTOR_ACTS, "A complaint about the collection conduct"),
    Command(
        "apply_payment_plan",
        selfservice.ApplyPaymentPlan,
        DEBTOR_ACTS,
        "The debtor applies for a payment plan: approved at once within the creditor's limits, else referred",
        run=selfservice.apply_payment_plan,
        after=selfservice.record_application,
        tags=("self-service",),
    ),
    Command(
        "apply_deferral",
        selfservice.ApplyDeferral,
        DEBTOR_ACTS,
        "The debtor applies for a deferral: granted at once within the creditor's limits, else referred",
        run=selfservice.apply_deferral,
        after=selfservice.record_application,
        tags=("self-service",),
    ),
    Command("decide_complaint", DecideComplaint, frozenset({Role.COMPLAINTS_BOARD}), "The board decides"),
    Command("register_death", RegisterDeath, CASEWORK, "The debtor has died", scope="office"),
    Command("register_proklama", RegisterProklama, CASEWORK, "A proklama was published", scope="office"),
    Command("run_policies", RunPolicies, CASEWORK, "The case flow runs day by day", scope="creditor"),
    Command(
        "register_creditor",
        RegisterCreditor,
        frozenset({Role.OFFICE_LEAD}),
        "A municipality joins the office",
        run=_register_creditor,
        scope="office",
        tags=("setup",),
    ),
    Command(
        "change_policy",
        ChangePolicy,
        frozenset({Role.OFFICE_LEAD}),
        "A creditor's collection policy changes",
        run=_change_policy,
        scope="creditor",
        tags=("setup",),
    ),
    Command(
        "register_debtor",
        RegisterDebtor,
        BILLING,
        "A debtor is registered with an office",
        run=_register_debtor,
        scope="office",
        tags=("setup",),
    ),
)


COMMAND_BY_NAME: dict[str, Command] = {c.name: c for c in COMMANDS}


def target_of(command: Command, body: Any) -> Target:
    if command.scope == "claim":
        return Target(creditor=body.creditor, invoice=body.invoice)
    if command.scope == "creditor":
        return Target(creditor=body.creditor)
    return Target(office=body.office)


# --- executing -----------------------------------------------------------------------------------


def request_hash(name: str, body: Body) -> str:
    canonical = json.dumps([name, body.model_dump(mode="json")], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    if not _KEY.match(key):
        raise invalid_field(KEY_HEADER, "1 to 255 visible ASCII characters (a UUID is a good key)")
    return key


def replayed(stored: StoredResponse) -> Response:
    return Response(stored.body, stored.status, media_type=stored.media_type, headers={"Idempotent-Replayed": "true"})


def reused(key: str) -> Problem:
    return Problem(
        "idempotency_key_reused",
        f"the Idempotency-Key {key!r} was used before for another request",
        field=KEY_HEADER,
        rule="one key, one request: a repeat must send the same body to the same command",
    )


def refusal(e: Exception) -> Problem:
    if isinstance(e, CommandRefused):
        return from_refusal(e)
    text = str(e)
    fieldname, _, rule = text.partition(": ")
    return invalid_field(fieldname if rule else "body", rule or text)


REFUSALS = (CommandRefused, InvalidKid, InvalidAmount, ParameterError)


def execute(request: Request, command: Command, body: Body, key: str, access: Access) -> Response:
    stored, replay = perform(request, command, body, key, access)
    if replay:
        return replayed(stored)
    return Response(stored.body, stored.status, media_type=stored.media_type)


def perform(request: Request, command: Command, body: Body, key: str, access: Access) -> tuple[StoredResponse, bool]:
    """Run ``command`` once for ``key`` (the API's endpoints and the pages' forms alike): the stored
    answer (a success or the domain's refusal as a problem) and whether it was a repeat."""
    services = access.services
    principal = access.principal
    key = check_key(key)
    digest = request_hash(command.name, body)
    target = target_of(command, body)
    structlog.contextvars.bind_contextvars(
        command=command.name, creditor=target.creditor, invoice=target.invoice, idempotency_key=key
    )
    for _ in range(CONFLICT_RETRIES):
        try:
            with services.app() as app:
                if target.creditor and target.invoice:
                    case_id = str(claim_id(app.namespace, target.creditor, target.invoice))
                    structlog.contextvars.bind_contextvars(case_id=case_id)
                    request.state.case_id = case_id
                try:
                    access.check_command(command.name, command.roles, target, app)
                except CommandRefused as e:
                    raise from_refusal(e) from None
                stored = services.idempotency.get(principal.id, key)
                if stored is not None:
                    if stored.request_hash != digest:
                        raise reused(key)
                    log.info("command.replayed")
                    return stored, True
                ctx = Context(
                    on=services.config.today(),
                    command_id=f"{principal.id}/{key}",
                    allow_synthetic_ids=services.config.allow_synthetic_ids,
                )
                answer = _answer(app, command, body, ctx)
                if command.after is not None and answer.status == 200:
                    command.after(access, app, body, json.loads(answer.body), ctx)
            break
        except RecordConflictError:
            log.info("command.conflict_retry")
            continue
    else:
        raise Problem("busy", "the case changed under the command several times; try again with the same key")
    if answer.status == 422 and json.loads(answer.body).get("field") == "command_id":
        raise reused(key)  # the domain knows the key's first command (its stored answer was lost)
    first = services.idempotency.put(principal.id, key, answer)
    if first is not answer and first.request_hash != digest:
        raise reused(key)
    log.info("command.done", status=first.status)
    return first, False


def _answer(app: CollectionApp, command: Command, body: Body, ctx: Context) -> StoredResponse:
    route = f"/commands/{command.name}"
    try:
        out = command.runner()(app, body, ctx)
    except ConcurrentChange as e:
        raise from_refusal(e) from None  # not the key's answer: the same key may run it again
    except (*REFUSALS, Problem) as e:
        problem = e if isinstance(e, Problem) else refusal(e)
        problem.extra = {"command": command.name}
        return StoredResponse(
            route, request_hash(command.name, body), problem.status, PROBLEM_JSON, _bytes(problem.body())
        )
    data = {"accepted": True, "command": command.name, "command_id": ctx.command_id, "on": ctx.on.isoformat(), **out}
    return StoredResponse(route, request_hash(command.name, body), 200, "application/json", _bytes(data))


def _bytes(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def _endpoint(command: Command) -> Callable[..., Response]:
    def endpoint(request: Request, body: Body, key: str, access: Access) -> Response:
        return execute(request, command, body, key, access)

    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
            inspect.Parameter("body", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=command.body),
            inspect.Parameter(
                "key",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=Annotated[
                    str,
                    Header(
                        alias=KEY_HEADER,
                        description="the command id: a repeat with the same key returns the first answer",
                    ),
                ],
            ),
            inspect.Parameter(
                "access", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Annotated[Access, Depends(access_of)]
            ),
        ]
    )
    endpoint.__name__ = command.name
    return endpoint


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {PROBLEM_JSON: {}}}
    for status, text in (
        (401, "no valid token"),
        (403, "not allowed for this principal or case"),
        (404, "unknown invoice"),
        (409, "refused by the case's state (the contract's code)"),
        (422, "invalid input, or an Idempotency-Key reused with another body"),
        (428, "Idempotency-Key missing"),
    )
}


def router() -> APIRouter:
    r = APIRouter()
    for command in COMMANDS:
        r.add_api_route(
            f"/commands/{command.name}",
            _endpoint(command),
            methods=["POST"],
            summary=command.summary,
            tags=list(command.tags),
            response_class=JSONResponse,
            responses=PROBLEM_RESPONSES,
            name=command.name,
        )
    return r
