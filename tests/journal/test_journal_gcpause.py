"""`gc_paused`: the cyclic collector is off inside the block and restored after it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenroom.journal import FileJournal, JournalEntry, ReplayEngine
from greenroom.journal.gcpause import gc_paused


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.mark.usefixtures("collector_on")
def test_the_collector_is_off_inside_and_on_again_after() -> None:
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_the_collector_is_on_again_after_an_exception() -> None:
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


@pytest.mark.usefixtures("collector_on")
def test_a_recovery_leaves_the_collector_on(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path)
    journal.append(JournalEntry("p", "state_transition",
                                {"from_state": "created", "to_state": "running", "reason": ""}))
    assert ReplayEngine(journal).recover("p").lifecycle_state == "running"
    assert gc.isenabled()
    journal.close()
