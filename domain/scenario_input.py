"""The strict input rules of a scenario file (``docs/scenario-format.md``), checked before any step runs.

A scenario file is read whole and checked whole: a key the format does not know (a typo such as
``issue_invoce`` or ``reprot_on``), a date that is no calendar day, an amount that is not an exact
decimal, a jurisdiction other than NO or SE. The first problem is one ``ScenarioError`` naming the
step, the field and the rule — ``invalid_input`` in the contract's words — and nothing has run, so
nothing is left half done. The domain's own refusals (a wrong KID check digit, a negative amount, a
deadline too short) stay what the contract makes them: a refused step in the report.

Amounts are decimal strings ("1000.50") or whole numbers (1000). A YAML number with a decimal point
(``1000.5``) is a float and refused: money is never a float. So is ``"1000,5"``; and unquoted in a
flow mapping, ``{amount: 1000,5}`` reads as ``amount: 1000`` plus a stray key ``5``, refused as such.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

import yaml

from domain.errors import CommandRefused, ErrorCode, invalid
from domain.inputs import parse_day

JURISDICTIONS: Final = ("NO", "SE")
DEBTOR_KINDS: Final = ("person", "organisation")
SCENARIO_KEYS: Final = frozenset(
    {"scenario", "jurisdiction", "creditor", "debtors", "steps", "report_on", "expect", "policy"}
)
DEBTOR_KEYS: Final = frozenset({"kind", "national_id", "contact"})
EXPECT_KEYS: Final = frozenset({"steps", "invoices", "debtors", "findings", "suspense"})
STEP_KEYS: Final = frozenset({"on", "do"})

COMMAND_ARGUMENTS: Final[Mapping[str, frozenset[str]]] = {
    "issue_invoice": frozenset({"invoice", "amount", "due", "claim_type", "debtor", "kid", "arose"}),
    "credit_invoice": frozenset({"invoice", "amount"}),
    "register_payment": frozenset({"invoice", "kid", "amount", "ordered", "designation"}),
    "send_notice": frozenset({"invoice", "invoices", "notice", "deadline", "channel"}),
    "register_objection": frozenset({"invoice", "received", "text"}),
    "resolve_objection": frozenset({"invoice", "outcome", "amount"}),
    "grant_deferral": frozenset({"invoice", "until", "requested_by_debtor"}),
    "agree_payment_plan": frozenset({"invoice", "installments"}),
    "request_enforcement": frozenset({"invoice", "invoices", "route"}),
    "register_judgment": frozenset({"invoice", "decided", "served"}),
    "apply_reinstatement": frozenset({"invoice"}),
    "register_death": frozenset({"debtor", "died"}),
    "register_proklama": frozenset({"debtor", "published"}),
    "report_to_estate": frozenset({"invoice"}),
    "write_off": frozenset({"invoice", "reason"}),
    "write_down": frozenset({"invoice", "amount", "reason"}),
    "file_complaint": frozenset({"invoice", "received"}),
    "decide_complaint": frozenset({"invoice", "outcome"}),
    "postpone_due": frozenset({"invoice", "until"}),
    "suspend_service": frozenset({"invoice", "service"}),
    "allocate_suspense": frozenset({"reference", "invoice"}),
    "import_payments": frozenset({"file", "format"}),
    "run_policies": frozenset({"until"}),
}
"""Every command a scenario step may name (``do``) and the arguments it takes besides ``on`` and
``do``. A new command or argument is added here and to ``ScenarioRunner`` together (a unit test
holds the two equal)."""

DATE_ARGUMENTS: Final = frozenset(
    {"on", "due", "ordered", "received", "until", "decided", "died", "published", "deadline", "arose", "served"}
)
AMOUNT_ARGUMENTS: Final = frozenset({"amount"})
INSTALLMENT_KEYS: Final = frozenset({"due", "amount"})
EXACT_DECIMAL = re.compile(r"\s*[+-]?[0-9]+(?:\.[0-9]+)?\s*")


class ScenarioError(ValueError):
    """The scenario file itself is malformed: one line naming where, the field and the rule."""

    def __init__(self, where: str, problem: str, *, step: int | None = None) -> None:
        self.where, self.problem, self.step = where, problem, step
        at = f"{where}, step {step}" if step is not None else where
        super().__init__(f"{at}: invalid_input: {problem}")


# --- reading YAML ----------------------------------------------------------------------------------


class NotADate(str):
    """A YAML date that is no calendar day (``2024-02-30``), kept as its text for the check to name."""


class _ScenarioLoader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. YAML 1.1 would read the key ``on`` and the country
    code ``NO`` as booleans. A date-shaped value that is no calendar day is kept as ``NotADate``."""


_ScenarioLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ScenarioLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return NotADate(str(node.value))


_ScenarioLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_ScenarioLoader)  # noqa: S506 - a SafeLoader subclass


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML parser error on one line: where in the file and what."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"not valid YAML at line {mark.line + 1}, column {mark.column + 1}: {error.problem}"
    return "not valid YAML: " + " ".join(str(error).split())


# --- the checks ------------------------------------------------------------------------------------


def _unknown(keys: Any, allowed: frozenset[str], what: str) -> str | None:
    """``"reciept: unknown key of …"`` naming every key ``allowed`` does not hold, or None."""
    extra = sorted(str(k) for k in keys if str(k) not in allowed)
    if not extra:
        return None
    plural = "s" if len(extra) > 1 else ""
    return f"{', '.join(extra)}: unknown key{plural} of {what} (known: {', '.join(sorted(allowed))})"


def check_date(field: str, value: Any) -> None:
    if isinstance(value, NotADate):
        raise invalid(field, f"{str(value)!r} is not a calendar date")
    if isinstance(value, datetime):
        raise invalid(field, f"{value.isoformat()!r} is a timestamp; give an ISO date (YYYY-MM-DD)")
    parse_day(field, value)


def check_amount(field: str, value: Any) -> None:
    """An exact decimal: a string of digits with an optional point and decimals, or a whole number. Its value
    (positive, two decimals, at most ``MAX_AMOUNT``) is the command's to check: a refused step, not a bad file."""
    if isinstance(value, bool) or value is None:
        raise invalid(field, f'{value!r} is not an amount; give a decimal string such as "1000.50"')
    if isinstance(value, float):
        raise invalid(field, f'{value!r} is a YAML float and money is never a float: quote it, "1000.50"')
    if isinstance(value, int):
        return
    if not isinstance(value, str) or not EXACT_DECIMAL.fullmatch(value):
        raise invalid(field, f'{value!r:.40} is not an exact decimal amount (digits, a point, decimals: "1000.50")')


def check_step(step: Mapping[str, Any]) -> None:
    """Raise ``invalid_input`` for the first thing wrong with the shape of one step."""
    do = step.get("do")
    if not isinstance(do, str) or do not in COMMAND_ARGUMENTS:
        what = "is missing" if do is None else f"{do!r} is not a scenario command"
        raise invalid("do", f"{what} (known: {', '.join(sorted(COMMAND_ARGUMENTS))})")
    if "on" not in step:
        raise invalid("on", "is required (the ISO date the step is recorded)")
    allowed = STEP_KEYS | COMMAND_ARGUMENTS[do]
    stray = [str(k) for k in step if str(k) not in allowed]
    if stray and all(k.isdigit() for k in stray) and isinstance(step.get("amount"), int):
        raise invalid(
            "amount",
            f"{step['amount']},{stray[0]} is not an amount: a decimal comma splits the step into two keys; "
            f'write "{step["amount"]}.{stray[0]}"',
        )
    if stray:
        raise CommandRefused(ErrorCode.INVALID_INPUT, str(_unknown(step, allowed, f"the {do} step")))
    for key, value in step.items():
        if key in DATE_ARGUMENTS and value is not None:
            check_date(key, value)
        if key in AMOUNT_ARGUMENTS and value is not None:
            check_amount(key, value)
    if "installments" in step:
        installments = step["installments"]
        if not isinstance(installments, list) or not installments:
            raise invalid("installments", "is a list of {due, amount}")
        for i, item in enumerate(installments):
            field = f"installments[{i}]"
            if not isinstance(item, dict):
                raise invalid(field, "is a mapping {due, amount}")
            problem = _unknown(item, INSTALLMENT_KEYS, "an instalment")
            if problem:
                raise invalid(field, problem)
            for key in sorted(INSTALLMENT_KEYS):
                if key not in item:
                    raise invalid(f"{field}.{key}", "is required")
            check_date(f"{field}.due", item["due"])
            check_amount(f"{field}.amount", item["amount"])


def check_document(doc: Any, where: str, policy_keys: frozenset[str]) -> None:
    """Raise ``ScenarioError`` for the first thing wrong with a whole scenario document."""
    if not isinstance(doc, dict):
        raise ScenarioError(where, "a scenario is a mapping with 'scenario' and 'steps'")
    problem = _unknown(doc, SCENARIO_KEYS, "a scenario")
    if problem:
        raise ScenarioError(where, problem)
    jurisdiction = doc.get("jurisdiction", "NO")
    if jurisdiction not in JURISDICTIONS:
        raise ScenarioError(where, f"jurisdiction: {jurisdiction!r} is not NO or SE")
    creditor = doc.get("creditor")
    if creditor is not None and not (isinstance(creditor, str | int) and re.fullmatch(r"[0-9]{4}", str(creditor))):
        raise ScenarioError(where, f'creditor: {creditor!r} is not a four-digit municipality number (quote it: "4601")')
    if "report_on" in doc:
        _as_scenario_error(where, None, lambda: check_date("report_on", doc["report_on"]))
    _check_debtors(doc.get("debtors"), where)
    _known_mapping(where, "policy", doc.get("policy"), policy_keys, "a collection policy")
    expect = doc.get("expect")
    if expect is not None:
        _known_mapping(where, "expect", expect, EXPECT_KEYS, "expect")
        for key in ("steps", "invoices", "debtors"):
            if not isinstance(expect.get(key) or {}, dict):
                raise ScenarioError(where, f"expect.{key}: is a mapping")
        for key in ("findings", "suspense"):
            listed = expect.get(key) or []
            if not isinstance(listed, list) or not all(isinstance(f, dict) for f in listed):
                raise ScenarioError(where, f"expect.{key}: is a list of mappings")
    steps = doc.get("steps")
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise ScenarioError(where, "steps: is a list of mappings ({on, do, ...})")
    for index, step in enumerate(steps):
        try:
            check_step(step)
        except CommandRefused as refused:
            raise ScenarioError(where, refused.message, step=index) from None


def _known_mapping(where: str, name: str, value: Any, allowed: frozenset[str], what: str) -> None:
    """``value`` (when given) is a mapping whose keys are all in ``allowed``."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise ScenarioError(where, f"{name}: is a mapping ({', '.join(sorted(allowed))})")
    problem = _unknown(value, allowed, what)
    if problem:
        raise ScenarioError(where, f"{name}: {problem}")


def _check_debtors(debtors: Any, where: str) -> None:
    if debtors is None:
        return
    if not isinstance(debtors, dict) or not debtors:
        raise ScenarioError(where, "debtors: maps debtor ids to {kind: person|organisation}")
    for ref, spec in debtors.items():
        spec = spec or {}
        _known_mapping(where, f"debtors.{ref}", spec, DEBTOR_KEYS, "a debtor")
        kind = spec.get("kind", "person")
        if kind not in DEBTOR_KINDS:
            raise ScenarioError(where, f"debtors.{ref}.kind: {kind!r} is not person or organisation")


def _as_scenario_error(where: str, step: int | None, check: Callable[[], None]) -> None:
    try:
        check()
    except CommandRefused as refused:
        raise ScenarioError(where, refused.message, step=step) from None
