"""Scheduled work of foot traffic: every hour, the finished days rolled up for the
dashboards and detection (yesterday whole, today so far)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from placecode.analytics import service
from placecode.config import Settings
from placecode.db import begin_write
from placecode.scheduler import Job


def hourly(session: Session, settings: Settings) -> None:
    # Today, yesterday and one older day owed at most: one run holds the (SQLite) writer up
    # for seconds, never for weeks of roll-up; a backlog is worked off hour by hour, and
    # until then those days are read from the venue-hours.
    current = service.today(settings)
    pending = service.pending_days(session=session, settings=settings)
    older = [day for day in pending if day < current - timedelta(days=1)]
    for day in older[-1:] + [day for day in pending if day not in older]:
        service.roll_up(session=session, settings=settings, day=day)
    # Judged in transactions that only read (the session's own are not IMMEDIATE): judging
    # takes seconds on the full district, and on SQLite the scans would wait for it.
    session.commit()
    for day, hour in service.days_to_judge(settings):
        found = service.judge(session=session, settings=settings, day=day, hour=hour)
        session.commit()
        begin_write(session)
        service.raise_alerts(session=session, found=found)
        session.commit()


JOBS = [Job(name="analytics.hourly", every=timedelta(hours=1), run=hourly)]
