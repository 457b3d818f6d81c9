"""The one clock that all code asks for "now".

A setting shifts it by whole days (the demo district lives on 24 March 2022 while the
wall clock says otherwise: a scan made now lands on the demo's today, at the same time of
day) or stops it at an instant (tests stand wherever they need to).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from placecode.config import Settings


class Clock:
    def __init__(self) -> None:
        self.zone = ZoneInfo("Asia/Shanghai")
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None

    def configure(self, settings: Settings) -> None:
        """Apply the clock settings; called once when a process starts."""
        self.zone = settings.zone
        self._frozen_at = None
        self._offset = timedelta(0)
        if settings.clock_frozen_at is not None:
            self.freeze(settings.clock_frozen_at)
        elif settings.clock_today is not None:
            self.shift_to(settings.clock_today)

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        if self._frozen_at is not None:
            return self._frozen_at
        return datetime.now(UTC) + self._offset

    def local_now(self) -> datetime:
        """The current instant in the region's time zone."""
        return self.now().astimezone(self.zone)

    def today(self) -> date:
        """The region's calendar day now."""
        return self.local_now().date()

    def shift_to(self, day: date) -> None:
        """Run on from now, but on `day` (whole days, so the time of day is kept)."""
        real_today = datetime.now(UTC).astimezone(self.zone).date()
        self._frozen_at = None
        self._offset = timedelta(days=(day - real_today).days)

    def freeze(self, at: datetime) -> None:
        """Stop the clock at `at` (a naive instant is taken as the region's local time)."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=self.zone)
        self._frozen_at = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        """Move a frozen clock forward (or back)."""
        if self._frozen_at is None:
            self._offset += delta
        else:
            self._frozen_at += delta

    def reset(self) -> None:
        """Back to the wall clock."""
        self._offset = timedelta(0)
        self._frozen_at = None

    def start_of_day(self, day: date) -> datetime:
        """The UTC instant at which the region's `day` begins."""
        return datetime.combine(day, time.min, tzinfo=self.zone).astimezone(UTC)


clock = Clock()
