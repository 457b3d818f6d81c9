"""When in the day people scan: the half-hour shape of real check-ins (MySejahtera's
national counts, see data/SOURCE.md), averaged over weekdays and over weekends."""

from __future__ import annotations

import csv
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).parent / "data" / "checkin_malaysia_time.csv"
SLOTS = 48  # half-hours
SLOT_SECONDS = 1800


@cache
def profiles() -> tuple[np.ndarray, np.ndarray]:
    """The share of a day's scans in each half-hour: (weekday, weekend), each summing to 1."""
    weekday: list[np.ndarray] = []
    weekend: list[np.ndarray] = []
    with SOURCE.open(newline="") as source:
        for row in csv.DictReader(source):
            counts = np.array([float(row[str(slot)]) for slot in range(SLOTS)])
            if counts.sum() <= 0:
                continue
            shares = counts / counts.sum()
            (weekend if date.fromisoformat(row["date"]).weekday() >= 5 else weekday).append(shares)
    return np.mean(weekday, axis=0), np.mean(weekend, axis=0)


def day_profile(day: date) -> np.ndarray:
    """The half-hour shares for this day of the week."""
    weekday, weekend = profiles()
    return weekend if day.weekday() >= 5 else weekday
