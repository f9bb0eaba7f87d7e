"""Written reasons kept apart from the events (issue 16 point 7, ADR 0028).

A reason a person types (a write-down's, a credit note's, a refund's or its rejection's) may name people,
places or an illness. The event records only its code: a reason of the domain's vocabulary
(``domain.inputs.REASON_CODES``) as it is, any other text as ``note``; the text itself goes to a
``NoteKeeper`` under the note's *subject* (the debtor it concerns, or the refund when the payer is unknown)
and its *reference* ``<case id>/<command id>`` — both already in the event, so the event carries the
reference and nothing else.

The composition root gives the application the personal-data store's keeper (``personal.notes``: sealed
under the subject's data key, erased with the debtor); an application without one (the scenario runner,
tests, the bench) keeps its notes in memory (``MemoryNotes``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Protocol
from uuid import UUID

ERASED: Final = "(erased)"
"""What a reader gets in place of a note whose subject was erased: the text went with the key."""


def note_ref(case_id: UUID | str, command_id: str) -> str:
    """The reference of the note a command wrote on a case (or refund)."""
    return f"{case_id}/{command_id}"


class NoteKeeper(Protocol):
    """Where written reasons are kept, outside the event store and the stream."""

    def keep(self, subject: str, ref: str, text: str) -> None:
        """Keep ``text`` for ``subject`` under ``ref``; the same again changes nothing (a repeated command)."""
        ...

    def read(self, subject: str, refs: Iterable[str]) -> dict[str, str]:
        """The texts of ``refs`` kept for ``subject``: ``ERASED`` for each once the subject is erased, and no
        entry for a reference nothing was kept under."""
        ...


class MemoryNotes:
    """Notes in this process only (scenarios, tests, benchmarks): gone when it ends."""

    def __init__(self) -> None:
        self._notes: dict[str, dict[str, str]] = {}
        self._erased: set[str] = set()

    def keep(self, subject: str, ref: str, text: str) -> None:
        if subject in self._erased:
            raise LookupError(f"subject {subject} was erased")
        self._notes.setdefault(subject, {})[ref] = text

    def read(self, subject: str, refs: Iterable[str]) -> dict[str, str]:
        if subject in self._erased:
            return dict.fromkeys(refs, ERASED)
        kept = self._notes.get(subject, {})
        return {ref: kept[ref] for ref in refs if ref in kept}

    def erase(self, subject: str) -> None:
        """Forget every note of ``subject`` (the debtor's erasure)."""
        self._notes.pop(subject, None)
        self._erased.add(subject)
