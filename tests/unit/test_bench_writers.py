"""The ingest's writer processes get disjoint cases: every command of a claim goes to the writer of its
debtor, in the workload's order, and no command is lost or doubled."""

from __future__ import annotations

from kravsak.bench.domain import by_debtor
from kravsak.bench.workload import norwegian_claims


def test_every_command_goes_to_exactly_one_writer_in_the_workloads_order() -> None:
    commands = list(norwegian_claims("4601", 400, 100))
    shares = by_debtor(commands, 2)
    assert sorted(id(c) for share in shares for c in share) == sorted(id(c) for c in commands)
    for share in shares:
        positions = [commands.index(c) for c in share]
        assert positions == sorted(positions)


def test_a_claim_and_its_debtor_belong_to_one_writer() -> None:
    commands = list(norwegian_claims("4601", 400, 100))
    writer_of_claim: dict[str, int] = {}
    writer_of_debtor: dict[str, int] = {}
    for k, share in enumerate(by_debtor(commands, 3)):
        for c in share:
            assert writer_of_claim.setdefault(c.kwargs["invoice"], k) == k
            if c.verb == "issue_invoice":
                assert writer_of_debtor.setdefault(c.kwargs["debtor_ref"], k) == k
    assert len(set(writer_of_debtor.values())) == 3  # every writer has work


def test_one_writer_gets_everything() -> None:
    commands = list(norwegian_claims("4601", 50, 10))
    assert by_debtor(commands, 1) == [commands]
