"""Scheduled work inside the server: each job runs once per period across all workers.

A worker claims a due job by moving its `last_run_at` forward in one UPDATE; only the
worker whose UPDATE matched runs it, so two workers (or two servers) never both do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, or_, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from placecode.clock import clock
from placecode.config import Settings
from placecode.db import Base, Database, insert_ignoring_conflicts

log = logging.getLogger("placecode.scheduler")


class ScheduledRun(Base):
    __tablename__ = "scheduled_runs"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_run_at: Mapped[datetime | None]


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    # A run that returns True has more to do: it is called again at once, in a transaction
    # of its own, so that no one transaction holds the database for long. A run may also
    # commit part-way (its claim and what it did so far are then kept should it fail).
    run: Callable[[Session, Settings], object]


def claim(*, session: Session, job: Job, now: datetime) -> bool:
    """Take the job if it is due; True for exactly one claimant per period."""
    session.execute(
        insert_ignoring_conflicts(session, ScheduledRun.__table__, ["name"]),
        [{"name": job.name, "last_run_at": None}],
    )
    result = session.execute(
        update(ScheduledRun)
        .where(
            ScheduledRun.name == job.name,
            or_(ScheduledRun.last_run_at.is_(None), ScheduledRun.last_run_at <= now - job.every),
        )
        .values(last_run_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def run_due(*, database: Database, settings: Settings, jobs: list[Job]) -> list[str]:
    """Run every due job (each in its own transaction); the names of those run."""
    done = []
    for job in jobs:
        # Sessions, not `database.session()`: a run may commit part-way. Closed on an
        # error, a session rolls back what was not committed.
        with database.sessions() as session:
            if not claim(session=session, job=job, now=clock.now()):
                continue
            more = job.run(session, settings) is True
            session.commit()
        while more:
            with database.sessions() as session:
                more = job.run(session, settings) is True
                session.commit()
        done.append(job.name)
        log.info("scheduled job done", extra={"job": job.name})
    return done


async def loop(
    *, database: Database, settings: Settings, jobs: list[Job], every: float = 60
) -> None:
    """Check for due jobs every minute, forever (cancelled at shutdown)."""
    while True:
        try:
            await asyncio.to_thread(run_due, database=database, settings=settings, jobs=jobs)
        except Exception:  # a failed job is logged and tried again next period
            log.exception("scheduled job failed")
        await asyncio.sleep(every)
