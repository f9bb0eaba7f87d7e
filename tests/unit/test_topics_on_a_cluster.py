"""`ensure_topics` on a cluster (ADR 0031): a topic just created may not yet be in the metadata of the broker
that is asked; it is asked again, and an error that names the topic comes only after the timeout."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.topics import TopicSetupFailed, _describe_all


class LateMetadata:
    """An admin client whose broker learns of ``late`` only after ``after`` describe calls."""

    def __init__(self, late: str, after: int) -> None:
        self.late, self.after, self.calls = late, after, 0

    def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        self.calls += 1
        known = self.calls > self.after
        return [
            {"name": n, "error_code": 0, "partitions": [{}, {}]}
            if n != self.late or known
            else {"name": n, "error_code": 3}
            for n in names
        ]


def test_a_topic_the_broker_learns_of_late_is_described_once_it_knows_it() -> None:
    admin = LateMetadata("t-schemas", after=2)
    assert _describe_all(admin, ["t", "t-schemas"], timeout_s=5) == {"t": 2, "t-schemas": 2}  # type: ignore[arg-type]
    assert admin.calls == 3


def test_a_topic_never_described_is_an_error_naming_it() -> None:
    with pytest.raises(TopicSetupFailed, match="t-schemas"):
        _describe_all(LateMetadata("t-schemas", after=10**6), ["t", "t-schemas"], timeout_s=0.5)  # type: ignore[arg-type]
