"""Change counters: how every worker learns that a cached table changed.

A writer bumps a named counter in the same transaction as its change; each worker polls
the counter (at most once per interval) and drops its cache when it moved. One tiny
indexed read per second per worker, and a change is seen everywhere within the interval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from placecode.db import Base


class ChangeCounter(Base):
    __tablename__ = "change_counters"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


def bump(*, session: Session, name: str) -> None:
    """Record that `name` changed (in the caller's transaction)."""
    result = session.execute(
        update(ChangeCounter)
        .where(ChangeCounter.name == name)
        .values(version=ChangeCounter.version + 1)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]  # an UPDATE's result has it
        session.add(ChangeCounter(name=name, version=1))
        session.flush()


def version(*, session: Session, name: str) -> int:
    found = session.scalar(select(ChangeCounter.version).where(ChangeCounter.name == name))
    return found or 0


class Watcher:
    """One process's view of a counter: has it moved since this process last looked?"""

    def __init__(self, name: str, interval: float = 1.0) -> None:
        self.name = name
        self.interval = interval
        self._seen: int | None = None
        self._checked_at = float("-inf")
        self._looking_since = float("-inf")
        self._lock = threading.Lock()

    def refresh(self, session: Session, reload: Callable[[], None]) -> bool:
        """Run `reload` if the counter moved (the first look counts as a move).

        Threads of one worker share the cache. Until the first load every thread waits for
        it; afterwards one thread looks while the others go on with what is loaded, so a
        thread holding a database connection never waits on another that needs one.
        """
        try:
            return self._look(session, reload)
        finally:
            self._looking_since = float("-inf")

    def _look(self, session: Session, reload: Callable[[], None]) -> bool:
        if time.monotonic() - self._checked_at < self.interval:
            return False
        if self._seen is None:
            self._lock.acquire()
        elif not self._lock.acquire(blocking=False):
            return False
        try:
            if self._seen is not None and time.monotonic() - self._checked_at < self.interval:
                return False  # another thread looked meanwhile
            current = version(session=session, name=self.name)
            moved = current != self._seen
            if moved:
                reload()
            self._seen = current
            self._checked_at = time.monotonic()
            return moved
        finally:
            self._lock.release()

    def fresh(self) -> bool:
        """Whether what was loaded may be used without asking the database (hot paths).

        When the interval has passed, the first caller is told to look (and should call
        `refresh`); callers after it go on with what is loaded while it looks, rather than
        all queueing for the database at once. A look not done within an interval is
        handed to the next caller.
        """
        if self._seen is None:
            return False
        now = time.monotonic()
        if now - self._checked_at < self.interval or now - self._looking_since < self.interval:
            return True
        self._looking_since = now
        return False

    def expire(self) -> None:
        """Look at the counter on the next call (after a change made in this process)."""
        self._checked_at = float("-inf")
        self._looking_since = float("-inf")
