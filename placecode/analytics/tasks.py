"""Scheduled work of foot traffic: every hour, the finished days rolled up for the
dashboards and detection (yesterday whole, today so far)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from placecode.analytics import service
from placecode.config import Settings
from placecode.scheduler import Job


def hourly(session: Session, settings: Settings) -> None:
    service.roll_up_pending(session=session, settings=settings)
    service.detect_now(session=session, settings=settings)


JOBS = [Job(name="analytics.hourly", every=timedelta(hours=1), run=hourly)]
