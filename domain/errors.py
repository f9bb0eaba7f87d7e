"""Refusals and problems a person can fix: the two error families of kravsak.

- ``CommandRefused``: the stable error codes of the scenario contract (docs/scenario-format.md). A refused command
  raises it before any event is triggered, so it changes nothing. When several refusals apply, the
  one earliest in ``PRIORITY`` is reported.
- ``ServiceError(problem, fix)``: a problem with its fix, both written for the person at the
  terminal (a port in use, a variable that holds no number, a topic with the wrong partition count).
  Every layer may raise it; the composition root (``kravsak.cli``, ``kravsak.services``) prints it as
  one line and exits with its ``exit_code``. ``kravsak.errors.KravsakError`` is the same class.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_INPUT = "invalid_input"
    UNKNOWN_INVOICE = "unknown_invoice"
    CLAIM_CLOSED = "claim_closed"
    CLAIM_WRITTEN_DOWN = "claim_written_down"  # 1.1: under long-term monitoring, only interrupting steps
    TIME_BARRED = "time_barred"
    DEBTOR_DECEASED = "debtor_deceased"
    NOT_DUE = "not_due"
    OBJECTION_PENDING = "objection_pending"
    CLAIM_DISPUTED = "claim_disputed"
    ROUTE_NOT_AVAILABLE = "route_not_available"
    MISSING_PREREQUISITE = "missing_prerequisite"
    DEADLINE_TOO_SHORT = "deadline_too_short"
    DEADLINE_NOT_EXPIRED = "deadline_not_expired"
    CONCURRENT_CHANGE = "concurrent_change"  # another writer kept changing what the command read: send it again


PRIORITY: tuple[ErrorCode, ...] = tuple(ErrorCode)


class CommandRefused(Exception):
    """A command the law or the case state does not allow; ``message`` names the rule."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Refusals:
    """Collects every refusal that applies, then raises the one the contract puts first."""

    def __init__(self) -> None:
        self._found: list[CommandRefused] = []

    def add(self, code: ErrorCode, message: str) -> None:
        self._found.append(CommandRefused(code, message))

    def raise_first(self) -> None:
        if self._found:
            raise min(self._found, key=lambda r: PRIORITY.index(r.code))


class ConcurrentChange(CommandRefused):
    """Another writer saved the same aggregate (or a record the command read) first, every time the
    application tried: nothing of the command is stored, and sending it again with the same id is safe."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.CONCURRENT_CHANGE, message)


def invalid(field: str, rule: str) -> CommandRefused:
    """An ``invalid_input`` refusal naming the field and the rule it breaks."""
    return CommandRefused(ErrorCode.INVALID_INPUT, f"{field}: {rule}")


class ServiceError(Exception):
    """A problem with its fix, both written for the person at the terminal (exit code 2)."""

    exit_code = 2

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem, fix)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem} — fix: {self.fix}"
