"""Change counters: how every worker learns that a cached table changed.

A writer bumps a named counter in the same transaction as its change; each worker polls
the counter (at most once per interval) and drops its cache when it moved. One tiny
indexed read per second per worker, and a change is seen everywhere within the interval.
"""

from __future__ import annotations

import time

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

    def changed(self, session: Session) -> bool:
        """True when the counter moved (the first look counts as a change)."""
        now = time.monotonic()
        if now - self._checked_at < self.interval:
            return False
        self._checked_at = now
        current = version(session=session, name=self.name)
        moved = current != self._seen
        self._seen = current
        return moved

    def expire(self) -> None:
        """Look at the counter on the next call (after a change made in this process)."""
        self._checked_at = float("-inf")
