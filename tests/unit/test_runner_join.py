"""The Runner's guard against kafka-python 3.0.12 forgetting a group join (ADR 0026)."""

from __future__ import annotations

import inspect
import threading
import types
from typing import Any

import kafka
from kafka.coordinator.base import BaseCoordinator
from kafka.structs import MemberState

from consumers.runner import keep_join_going


def coordinator(state: MemberState, *, rejoin_needed: bool) -> Any:
    """A stand-in with the attributes the guard reads, and kafka-python's own request_rejoin."""
    stand_in = types.SimpleNamespace(_lock=threading.RLock(), state=state, rejoin_needed=rejoin_needed)
    stand_in.request_rejoin = types.MethodType(BaseCoordinator.request_rejoin, stand_in)
    return stand_in


def test_a_join_left_rebalancing_without_the_rejoin_flag_is_taken_up_again_once() -> None:
    consumer = types.SimpleNamespace(_coordinator=coordinator(MemberState.REBALANCING, rejoin_needed=False))
    assert keep_join_going(consumer) is True
    assert consumer._coordinator.rejoin_needed is True
    assert keep_join_going(consumer) is False  # the next poll awaits the join; nothing more to do


def test_a_stable_member_and_a_join_being_awaited_are_left_alone() -> None:
    for state, flag in ((MemberState.STABLE, False), (MemberState.REBALANCING, True), (MemberState.UNJOINED, False)):
        consumer = types.SimpleNamespace(_coordinator=coordinator(state, rejoin_needed=flag))
        assert keep_join_going(consumer) is False
        assert consumer._coordinator.rejoin_needed is flag


def test_a_consumer_without_a_group_is_left_alone() -> None:
    assert keep_join_going(types.SimpleNamespace()) is False


def test_the_pinned_kafka_python_still_has_what_the_guard_reads() -> None:
    """An upgrade that renames these fails here, not silently in production."""
    assert kafka.__version__ == "3.0.12", "re-check keep_join_going against the new kafka-python, then update this pin"
    source = inspect.getsource(BaseCoordinator)
    for name in ("self._lock = threading.RLock()", "self.rejoin_needed = ", "self.state = MemberState.REBALANCING"):
        assert name in source
