"""``domain.collector``: the collector runs less often while a batch is worked, and as before after it."""

from __future__ import annotations

import gc

import pytest

from domain.application import CollectionApp
from domain.collector import BATCH_THRESHOLDS, fewer_collections


def test_a_unit_of_work_raises_the_thresholds_and_puts_back_what_was_there() -> None:
    app = CollectionApp()
    before = gc.get_threshold()
    assert before != BATCH_THRESHOLDS
    with app.unit_of_work():
        assert gc.get_threshold() == BATCH_THRESHOLDS
        with app.unit_of_work():  # nested: one unit of work
            assert gc.get_threshold() == BATCH_THRESHOLDS
        assert gc.get_threshold() == BATCH_THRESHOLDS
    assert gc.get_threshold() == before


def test_the_thresholds_come_back_after_a_failed_batch_and_only_when_the_last_user_ends() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        with pytest.raises(RuntimeError):
            with CollectionApp().unit_of_work():
                raise RuntimeError("a command failed half-way")
        assert gc.get_threshold() == BATCH_THRESHOLDS  # the outer batch still runs
    assert gc.get_threshold() == before
