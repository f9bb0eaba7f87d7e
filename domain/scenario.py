"""Scenarios (format: ``docs/scenario-format.md``; the files: ``scenarios/``): a timeline of commands
replayed through the real application, reported as the contract's JSON, and checked against its
``expect`` block."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from domain.application import CollectionApp
from domain.errors import CommandRefused, ErrorCode, invalid
from domain.inputs import parse_amount, parse_day
from domain.kid import InvalidKid
from domain.money import InvalidAmount, fmt
from domain.policy import CollectionPolicy, default_policy
from domain.records import Installment
from domain.rules.parameters import ParameterError
from domain.scenario_input import (
    COMMAND_ARGUMENTS,
    ScenarioError,
    check_document,
    check_step,
    load_yaml,
    yaml_problem,
)

DEFAULT_CREDITOR = "9999"
DEFAULT_DEBTORS: dict[str, dict[str, Any]] = {"D1": {"kind": "person"}}
INTEREST_TOLERANCE = Decimal("0.01")
POLICY_KEYS = frozenset(f.name for f in dataclasses.fields(CollectionPolicy))

__all__ = [
    "COMMAND_ARGUMENTS",
    "BankFileStep",
    "Scenario",
    "ScenarioError",
    "ScenarioRunner",
    "check_expectations",
    "load_yaml",
    "plug_bank_files",
    "run_scenario",
    "step_index",
]


@dataclass(frozen=True, slots=True)
class BankFileStep:
    """An ``import_payments`` step as the bank-file reader gets it: the file (its path resolved against the
    scenario file's folder), the format named, the scenario's creditor (every account in the file is
    its), the step's date and command id."""

    path: Path
    file_format: str
    creditor: str
    on: date
    command_id: str


BankFileReader = Callable[[CollectionApp, BankFileStep], dict[str, Any]]
"""Imports a bank file into the application and returns the step's output (``matched``, ``unmatched``,
``duplicates``); a file that cannot be read is ``CommandRefused`` (``invalid_input``) naming the line or
element. The domain reads no bank files itself: the intake edge is plugged in (``plug_bank_files``) by the
composition root (``kravsak.wiring``)."""

_BANK_FILES: list[BankFileReader] = []
FILE_FORMATS = ("ocr", "camt054", "bgmax")


def plug_bank_files(reader: BankFileReader) -> None:
    """The reader of ``import_payments`` steps (the last one plugged counts)."""
    _BANK_FILES.append(reader)


@dataclass
class Scenario:
    name: str
    jurisdiction: str
    creditor: str
    debtors: dict[str, dict[str, Any]]
    steps: list[dict[str, Any]]
    report_on: date | None
    expect: dict[str, Any] = field(default_factory=dict)
    policy: dict[str, Any] | None = None
    where: str = "scenario"
    base: Path | None = None  # the scenario file's folder: files named by steps are relative to it

    @classmethod
    def load(cls, path: Path) -> Scenario:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ScenarioError(str(path), f"cannot read the scenario file: {e}") from None
        scenario = cls.parse_text(text, where=str(path))
        scenario.base = path.resolve().parent
        return scenario

    @classmethod
    def parse_text(cls, text: str, *, where: str = "scenario") -> Scenario:
        try:
            doc = load_yaml(text)
        except yaml.YAMLError as e:
            raise ScenarioError(where, yaml_problem(e)) from None
        return cls.parse(doc, where=where)

    @classmethod
    def parse(cls, doc: Any, *, where: str = "scenario") -> Scenario:
        """A checked scenario (``domain.scenario_input``): a malformed one raises ``ScenarioError``."""
        check_document(doc, where, POLICY_KEYS)
        debtors = doc.get("debtors") or DEFAULT_DEBTORS
        return cls(
            name=str(doc.get("scenario", where)),
            jurisdiction=str(doc.get("jurisdiction", "NO")),
            creditor=str(doc.get("creditor", DEFAULT_CREDITOR)),
            debtors={str(k): dict(v or {}) for k, v in debtors.items()},
            steps=doc["steps"],
            report_on=doc.get("report_on"),
            expect=dict(doc.get("expect") or {}),
            policy=doc.get("policy"),
            where=where,
        )


class _Args:
    """Typed access to one step's arguments; a wrong one is ``invalid_input`` naming the field."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw

    def has(self, name: str) -> bool:
        return self.raw.get(name) is not None

    def text(self, name: str, default: str | None = None) -> str:
        value = self.raw.get(name, default)
        if value is None:
            raise invalid(name, "is required")
        return str(value)

    def day(self, name: str, default: date | None = None) -> date:
        value = self.raw.get(name, default)
        if value is None:
            raise invalid(name, "is required (an ISO date)")
        return parse_day(name, value)

    def optional_day(self, name: str) -> date | None:
        return self.day(name) if self.has(name) else None

    def amount(self, name: str) -> Decimal:
        return parse_amount(name, self.raw.get(name))

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw.get(name, default)
        if not isinstance(value, bool):
            raise invalid(name, f"{value!r} is not true or false")
        return value


class ScenarioRunner:
    """Runs one scenario through a ``CollectionApp`` and builds the contract's report."""

    def __init__(self, app: CollectionApp, scenario: Scenario) -> None:
        self.app, self.s = app, scenario
        self.invoices: list[str] = []
        self.debtor_of: dict[str, str] = {}
        self.results: list[dict[str, Any]] = []

    def run(self) -> dict[str, Any]:
        s = self.s
        first = min((_Args(st).day("on") for st in s.steps if isinstance(st.get("on"), date)), default=date.today())
        try:
            self._setup(first)
        except (CommandRefused, ParameterError) as e:
            raise ScenarioError(s.where, e.message if isinstance(e, CommandRefused) else str(e)) from None
        for index, step in enumerate(s.steps):
            self.results.append(self._step(index, step))
        last_on = max((st["on"] for st in s.steps if isinstance(st.get("on"), date)), default=first)
        report_on = s.report_on or last_on
        return self._report(report_on)

    def _setup(self, on: date) -> None:
        """The creditor and the debtors, in ONE save: a refused debtor leaves no creditor behind."""
        with self.app.unit_of_work():
            self._register_parties(on)

    def _register_parties(self, on: date) -> None:
        s, app = self.s, self.app
        policy = None
        if s.policy:
            base = default_policy(app._jurisdiction(s.jurisdiction)).as_dict()
            policy = CollectionPolicy.from_dict({**base, **s.policy})
        app.register_creditor(
            creditor=s.creditor,
            name=f"Scenario creditor {s.creditor}",
            jurisdiction=s.jurisdiction,
            on=on,
            command_id="setup-creditor",
            policy=policy,
        )
        for ref, spec in s.debtors.items():
            app.register_debtor(
                office=s.creditor,
                ref=ref,
                kind=str(spec.get("kind", "person")),
                jurisdiction=s.jurisdiction,
                on=on,
                command_id=f"setup-debtor-{ref}",
                national_id=spec.get("national_id"),
                allow_synthetic=True,
                contact=spec.get("contact"),
            )

    def _step(self, index: int, step: dict[str, Any]) -> dict[str, Any]:
        do = str(step.get("do", ""))
        out: dict[str, Any] = {"index": index, "do": do}
        try:
            check_step(step)
            extra = self._dispatch(f"step-{index}", do, _Args(step))
        except CommandRefused as refused:
            out.update(accepted=False, error={"code": refused.code.value, "message": refused.message})
            return out
        except (InvalidKid, InvalidAmount, ParameterError) as e:
            out.update(accepted=False, error={"code": ErrorCode.INVALID_INPUT.value, "message": str(e)})
            return out
        out["accepted"] = True
        out.update(extra)
        return out

    def _dispatch(self, cid: str, do: str, a: _Args) -> dict[str, Any]:
        handler: Callable[[str, _Args, date], dict[str, Any]] | None = getattr(self, f"_do_{do}", None)
        if handler is None or not do:
            raise invalid("do", f"'{do}' is not a scenario command (known: {', '.join(sorted(COMMAND_ARGUMENTS))})")
        return handler(cid, a, a.day("on"))

    # --- commands ------------------------------------------------------------------------------

    def _do_issue_invoice(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        invoice, amount, due = a.text("invoice"), a.amount("amount"), a.day("due")
        claim_type = a.text("claim_type", "other")
        debtor = a.text("debtor", next(iter(self.s.debtors)) if len(self.s.debtors) == 1 else None)
        if debtor not in self.s.debtors:
            raise invalid("debtor", f"'{debtor}' is not one of the scenario's debtors")
        self.app.issue_invoice(
            creditor=self.s.creditor,
            invoice=invoice,
            amount=amount,
            due=due,
            claim_type=claim_type,
            debtor_ref=debtor,
            on=on,
            command_id=cid,
            arose=a.optional_day("arose"),  # 1.1: default = due
            kid=a.text("kid") if a.has("kid") else None,  # 1.1: default = assigned by the system
        )
        if invoice not in self.invoices:
            self.invoices.append(invoice)
            self.debtor_of[invoice] = debtor
        claim = self.app.claim(self.s.creditor, invoice)
        return {"kid": claim.kid, "channel": claim.invoice_channel}

    def _do_credit_invoice(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        invoice, amount = a.text("invoice"), a.amount("amount")
        self.app.credit_invoice(creditor=self.s.creditor, invoice=invoice, amount=amount, on=on, command_id=cid)
        return {}

    def _do_register_payment(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        if a.has("kid"):
            return self._register_payment_by_kid(cid, a, on)
        invoice, amount, ordered = a.text("invoice"), a.amount("amount"), a.day("ordered", on)
        designation = a.text("designation") if a.has("designation") else None
        self.app.register_payment(
            creditor=self.s.creditor,
            invoice=invoice,
            amount=amount,
            on=on,
            command_id=cid,
            ordered=ordered,
            designation=designation,
        )
        return {}

    def _register_payment_by_kid(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        """1.1: ``kid`` instead of ``invoice`` — matched as a bank file's payment would be."""
        if a.has("invoice"):
            raise invalid("kid", "give either invoice or kid, not both")
        invoice = self.app.register_payment_by_reference(
            creditor=self.s.creditor,
            reference=a.text("kid"),
            amount=a.amount("amount"),
            on=on,
            command_id=cid,
            ordered=a.day("ordered", on),
            designation=a.text("designation") if a.has("designation") else None,
        )
        return {"invoice": invoice}

    def _do_send_notice(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        if a.has("invoices"):
            return self._send_combined_notice(cid, a, on)
        invoice, notice, deadline = a.text("invoice"), a.text("notice"), a.optional_day("deadline")
        channel = a.text("channel") if a.has("channel") else None
        self.app.send_notice(
            creditor=self.s.creditor,
            invoice=invoice,
            notice=notice,
            on=on,
            command_id=cid,
            deadline=deadline,
            channel=channel,
        )
        record = next(n for n in self.app.claim(self.s.creditor, invoice).facts.notices if n.command_id == cid)
        return {"fee": fmt(record.fee), "deadline": record.deadline.isoformat(), "channel": record.channel}

    def _do_register_objection(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        self.app.register_objection(
            creditor=self.s.creditor,
            invoice=a.text("invoice"),
            on=on,
            command_id=cid,
            received=a.day("received", on),
            text=a.text("text", ""),
        )
        return {}

    def _do_resolve_objection(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        amount = a.amount("amount") if a.has("amount") else None
        self.app.resolve_objection(
            creditor=self.s.creditor,
            invoice=a.text("invoice"),
            outcome=a.text("outcome"),
            on=on,
            command_id=cid,
            amount=amount,
        )
        return {}

    def _do_grant_deferral(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        self.app.grant_deferral(
            creditor=self.s.creditor,
            invoice=a.text("invoice"),
            until=a.day("until"),
            on=on,
            command_id=cid,
            requested_by_debtor=a.flag("requested_by_debtor", True),
        )
        return {}

    def _do_agree_payment_plan(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        raw = a.raw.get("installments")
        if not isinstance(raw, list) or not raw:
            raise invalid("installments", "a list of {due, amount} is required")
        plan = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise invalid(f"installments[{i}]", "must be {due, amount}")
            sub = _Args(item)
            plan.append(Installment(sub.day("due"), sub.amount("amount")))
        self.app.agree_payment_plan(
            creditor=self.s.creditor, invoice=a.text("invoice"), installments=plan, on=on, command_id=cid
        )
        return {}

    def _do_request_enforcement(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        if a.has("invoices"):
            return self._request_combined_enforcement(cid, a, on)
        invoice = a.text("invoice")
        self.app.request_enforcement(
            creditor=self.s.creditor, invoice=invoice, route=a.text("route"), on=on, command_id=cid
        )
        record = next(e for e in self.app.claim(self.s.creditor, invoice).facts.enforcements if e.command_id == cid)
        return {"cost": fmt(record.cost)}

    def _do_register_judgment(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        decided = a.day("decided", on)
        self.app.register_judgment(
            creditor=self.s.creditor,
            invoice=a.text("invoice"),
            on=on,
            command_id=cid,
            decided=decided,
            served=a.day("served", decided),  # 1.1: default = decided
        )
        return {}

    def _do_apply_reinstatement(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        self.app.apply_reinstatement(creditor=self.s.creditor, invoice=a.text("invoice"), on=on, command_id=cid)
        return {}

    def _do_register_death(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        debtor = self._debtor(a)
        self.app.register_death(office=self.s.creditor, debtor_ref=debtor, died=a.day("died"), on=on, command_id=cid)
        return {}

    def _do_register_proklama(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        deadline = self.app.register_proklama(
            office=self.s.creditor, debtor_ref=self._debtor(a), published=a.day("published"), on=on, command_id=cid
        )
        return {"estate_report_deadline": deadline.isoformat()}

    def _do_report_to_estate(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        self.app.report_to_estate(creditor=self.s.creditor, invoice=a.text("invoice"), on=on, command_id=cid)
        return {}

    def _do_write_off(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        self.app.write_off(
            creditor=self.s.creditor, invoice=a.text("invoice"), reason=a.text("reason"), on=on, command_id=cid
        )
        return {}

    def _do_write_down(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        """1.1: written down in the accounts (the balance by default), long-term monitoring from then."""
        self.app.write_down(
            creditor=self.s.creditor,
            invoice=a.text("invoice"),
            amount=a.amount("amount") if a.has("amount") else None,
            reason=a.text("reason"),
            on=on,
            command_id=cid,
        )
        return {}

    def _do_postpone_due(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        invoice = a.text("invoice")
        self.app.postpone_due(creditor=self.s.creditor, invoice=invoice, until=a.day("until"), on=on, command_id=cid)
        return {"due": self.app.claim(self.s.creditor, invoice).due.isoformat()}

    def _do_file_complaint(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        self.app.file_complaint(
            creditor=self.s.creditor, invoice=a.text("invoice"), on=on, command_id=cid, received=a.day("received", on)
        )
        return {}

    def _do_decide_complaint(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        self.app.decide_complaint(
            creditor=self.s.creditor, invoice=a.text("invoice"), outcome=a.text("outcome"), on=on, command_id=cid
        )
        return {}

    def _do_run_policies(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        until = a.day("until")
        if until < on:
            raise invalid("until", f"{until} lies before the step date {on}")
        runs = self.app.run_policies(
            creditor=self.s.creditor, invoices=list(self.invoices), start=on, until=until, command_id=cid
        )
        actions = []
        for r in runs:
            entry: dict[str, Any] = {
                "on": r.day.isoformat(),
                "invoice": r.invoice,
                "do": r.action.kind,
                r.action.kind == "notice" and "notice" or "route": r.action.name,
                "accepted": r.accepted,
            }
            if r.letter:
                entry["letter"] = list(r.letter)  # samlesak: one letter / request for these invoices
            if r.action.monitoring:
                entry["monitoring"] = True  # long-term monitoring's limitation-interrupting step
            if r.error:
                entry["error"] = r.error
            actions.append(entry)
        return {"actions": actions}

    # --- format 1.1 commands ------------------------------------------------------------------------

    def _send_combined_notice(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        """``invoices: [..]`` instead of ``invoice``: one letter, one fee."""
        invoices = self._invoice_list(a)
        letter = self.app.send_combined_notice(
            creditor=self.s.creditor,
            invoices=invoices,
            notice=a.text("notice"),
            on=on,
            command_id=cid,
            deadline=a.optional_day("deadline"),
            channel=a.text("channel") if a.has("channel") else None,
        )
        records = [self._record(invoice, cid, "notices") for invoice in letter]
        return {
            "fee": fmt(sum((r.fee for r in records), Decimal(0))),
            "deadline": records[0].deadline.isoformat(),
            "channel": records[0].channel,
        }

    def _request_combined_enforcement(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        """``invoices: [..]`` instead of ``invoice``: one request, one court or enforcement fee."""
        request = self.app.request_combined_enforcement(
            creditor=self.s.creditor, invoices=self._invoice_list(a), route=a.text("route"), on=on, command_id=cid
        )
        return {"cost": fmt(sum((self._record(i, cid, "enforcements").cost for i in request), Decimal(0)))}

    def _invoice_list(self, a: _Args) -> list[str]:
        raw = a.raw.get("invoices")
        if a.has("invoice"):
            raise invalid("invoices", "give either invoice or invoices, not both")
        if not isinstance(raw, list) or not raw or not all(isinstance(i, str | int) for i in raw):
            raise invalid("invoices", "a list of invoice numbers is required")
        return [str(i) for i in raw]

    def _record(self, invoice: str, cid: str, kind: str) -> Any:
        records = getattr(self.app.claim(self.s.creditor, invoice).facts, kind)
        return next(r for r in records if r.command_id == cid)

    def _do_suspend_service(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        invoice = a.text("invoice")
        self.app.suspend_service(
            creditor=self.s.creditor, invoice=invoice, service=a.text("service"), on=on, command_id=cid
        )
        return {"cost": fmt(self._record(invoice, cid, "suspensions").cost)}

    def _do_allocate_suspense(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        invoice = a.text("invoice")
        self.app.allocate_suspense(
            creditor=self.s.creditor, reference=a.text("reference"), invoice=invoice, on=on, command_id=cid
        )
        return {}

    def _do_import_payments(self, cid: str, a: _Args, on: date) -> dict[str, Any]:
        """1.1: a real bank file, matched by its references; unmatched money to suspense."""
        name, file_format = a.text("file"), a.text("format")
        if file_format not in FILE_FORMATS:
            raise invalid("format", f"{file_format!r} is not one of {', '.join(FILE_FORMATS)}")
        path = Path(name)
        if not path.is_absolute():
            path = (self.s.base or Path.cwd()) / path
        if not _BANK_FILES:
            raise invalid("file", "no bank-file reader is plugged in (kravsak.wiring plugs intake's)")
        return _BANK_FILES[-1](self.app, BankFileStep(path, file_format, self.s.creditor, on, cid))

    def _debtor(self, a: _Args) -> str:
        debtor = a.text("debtor", next(iter(self.s.debtors)) if len(self.s.debtors) == 1 else None)
        if debtor not in self.s.debtors:
            raise invalid("debtor", f"'{debtor}' is not one of the scenario's debtors")
        return debtor

    # --- report --------------------------------------------------------------------------------

    def _report(self, report_on: date) -> dict[str, Any]:
        invoices: dict[str, Any] = {}
        findings: list[dict[str, Any]] = []
        for invoice in self.invoices:
            claim = self.app.claim(self.s.creditor, invoice)
            invoices[invoice] = self.app.claim_report(claim, report_on)
            for f in claim.audit().findings:
                if not f.holds_on(report_on):
                    continue  # 1.1: a window still open (threat_not_carried_out)
                findings.append(
                    {
                        "invoice": invoice,
                        "step": step_index(f.command_id),
                        "code": f.code,
                        "severity": f.severity.value,
                        "message": f.message,
                    }
                )
        debtors = {}
        for ref in self.s.debtors:
            d = self.app.debtor(self.s.creditor, ref)
            debtors[ref] = {
                "estate_report_deadline": d.estate_report_deadline.isoformat() if d.estate_report_deadline else None,
                "deceased": d.died.isoformat() if d.died else None,
            }
        return {
            "scenario": self.s.name,
            "report_on": report_on.isoformat(),
            "steps": self.results,
            "invoices": invoices,
            "debtors": debtors,
            "findings": findings,
            "suspense": self._suspense(),
        }

    def _suspense(self) -> list[dict[str, str]]:
        """1.1: money still in suspense, oldest first."""
        account = self.app.suspense(self.s.creditor)
        items = account.open_items() if account is not None else []
        return [suspense_entry(i.reference, i.amount, i.ordered) for i in items]


def suspense_entry(reference: str, amount: Decimal, ordered: date) -> dict[str, str]:
    return {"reference": reference, "amount": fmt(amount), "ordered": ordered.isoformat()}


def step_index(command_id: str) -> int | None:
    """The scenario step a command id belongs to (`step-3`, or `step-3/…` for what a policy run did)."""
    head = command_id.split("/", 1)[0]
    return int(head.removeprefix("step-")) if head.startswith("step-") else None


def run_scenario(scenario: Scenario, app: CollectionApp | None = None) -> dict[str, Any]:
    return ScenarioRunner(app or CollectionApp(), scenario).run()


def run_command(
    app: CollectionApp,
    *,
    creditor: str,
    do: str,
    step: Mapping[str, Any],
    command_id: str,
    debtors: tuple[str, ...] = (),
    invoices: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One scenario step as a command on its own (the HTTP API's commands): the same arguments, the
    same checks and the same step output as in a scenario, against ``creditor`` — for the debtor
    commands (``register_death``, ``register_proklama``) the debtor's collection office. Raises
    ``CommandRefused`` (and ``InvalidKid``, ``InvalidAmount``, ``ParameterError``) when refused."""
    scenario = Scenario(
        name=do,
        jurisdiction="",
        creditor=creditor,
        debtors={ref: {} for ref in debtors},
        steps=[dict(step)],
        report_on=None,
    )
    runner = ScenarioRunner(app, scenario)
    runner.invoices = list(invoices)
    return runner._dispatch(command_id, do, _Args(step))


# --- expectations ------------------------------------------------------------------------------


def check_expectations(expect: Mapping[str, Any], report: Mapping[str, Any]) -> list[str]:
    """Every mismatch between the ``expect`` block and the report (empty when all hold)."""
    problems: list[str] = []
    steps = {s["index"]: s for s in report["steps"]}
    for index, fields in (expect.get("steps") or {}).items():
        got = steps.get(int(index))
        if got is None:
            problems.append(f"step {index}: not in the report")
            continue
        for key, want in fields.items():
            have = got.get("error", {}).get("code") if key == "error" else got.get(key)
            if not _same(key, want, have):
                problems.append(
                    f"step {index} {key}: expected {_show(want)}, got {_show(have)}"
                    + (f" ({got['error']['message']})" if "error" in got and key != "error" else "")
                )
    for invoice, fields in (expect.get("invoices") or {}).items():
        got = report["invoices"].get(invoice)
        if got is None:
            problems.append(f"invoice {invoice}: not in the report")
            continue
        for key, want in fields.items():
            if not _same(key, want, got.get(key)):
                problems.append(f"invoice {invoice} {key}: expected {_show(want)}, got {_show(got.get(key))}")
    for debtor, fields in (expect.get("debtors") or {}).items():
        got = report["debtors"].get(debtor, {})
        for key, want in fields.items():
            if not _same(key, want, got.get(key)):
                problems.append(f"debtor {debtor} {key}: expected {_show(want)}, got {_show(got.get(key))}")
    for wanted in expect.get("findings") or []:
        if not any(all(_same(k, v, f.get(k)) for k, v in wanted.items()) for f in report["findings"]):
            problems.append(f"finding {wanted} not found")
    for wanted in expect.get("suspense") or []:
        if not any(all(_same(k, v, item.get(k)) for k, v in wanted.items()) for item in report.get("suspense", [])):
            problems.append(f"suspense item {wanted} not found")
    return problems


def _same(key: str, want: Any, have: Any) -> bool:
    if want is None or have is None:
        return want is None and have is None
    if key == "interest":
        return abs(Decimal(str(want)) - Decimal(str(have))) <= INTEREST_TOLERANCE
    if isinstance(want, bool) or isinstance(have, bool):
        return want is have
    if isinstance(want, date):
        return want.isoformat() == str(have)
    return str(want) == str(have)


def _show(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else repr(value)
