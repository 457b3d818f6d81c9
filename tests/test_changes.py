"""Change counters: a worker's cache is looked at once per interval, by one caller at a time."""

import time

from sqlalchemy.orm import Session

from placecode import changes


def test_a_moved_counter_reloads_and_a_still_one_does_not(session: Session) -> None:
    watcher = changes.Watcher("test-counter", interval=0)
    reloads: list[int] = []
    assert watcher.refresh(session, lambda: reloads.append(1))  # the first look loads
    assert not watcher.refresh(session, lambda: reloads.append(2))
    changes.bump(session=session, name="test-counter")
    assert watcher.refresh(session, lambda: reloads.append(3))
    assert reloads == [1, 3]


def test_when_the_interval_passes_one_caller_looks_while_the_others_use_the_cache(
    session: Session,
) -> None:
    watcher = changes.Watcher("test-counter", interval=0.2)
    assert not watcher.fresh()  # nothing loaded yet: everyone must wait for the first look
    assert not watcher.fresh()
    watcher.refresh(session, lambda: None)
    assert watcher.fresh()
    time.sleep(0.25)
    assert not watcher.fresh()  # the first caller after the interval is sent to look
    assert watcher.fresh()  # the next ones go on with what is loaded meanwhile
    assert watcher.fresh()
    watcher.refresh(session, lambda: None)
    assert watcher.fresh()


def test_a_look_not_taken_is_handed_to_a_later_caller(session: Session) -> None:
    watcher = changes.Watcher("test-counter", interval=0.2)
    watcher.refresh(session, lambda: None)
    time.sleep(0.25)
    assert not watcher.fresh()  # sent to look, but never does (its request failed, say)
    assert watcher.fresh()
    time.sleep(0.25)
    assert not watcher.fresh()  # a caller after another interval is sent instead


def test_a_change_made_in_this_process_is_looked_at_by_the_next_caller(session: Session) -> None:
    watcher = changes.Watcher("test-counter", interval=60)
    watcher.refresh(session, lambda: None)
    assert watcher.fresh()
    watcher.expire()
    assert not watcher.fresh()
    reloads: list[int] = []
    changes.bump(session=session, name="test-counter")
    assert watcher.refresh(session, lambda: reloads.append(1))
    assert reloads == [1] and watcher.fresh()
