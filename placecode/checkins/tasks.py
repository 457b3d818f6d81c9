"""Scheduled work of check-ins: retention, and tomorrow's day partition (PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from placecode.checkins import service
from placecode.checkins.store import DAY, ensure_partitions, epoch
from placecode.clock import clock
from placecode.config import Settings
from placecode.scheduler import Job


def daily(session: Session, settings: Settings) -> bool:
    """Retention, a batch of old check-ins at a time (True while some are left), then
    today's and tomorrow's partitions."""
    if service.purge(session=session, settings=settings, limit=service.PURGE_BATCH).more:
        return True
    today = epoch(clock.now()) // DAY * DAY
    ensure_partitions(session, [today, today + DAY])
    return False


JOBS = [Job(name="checkins.daily", every=timedelta(days=1), run=daily)]
