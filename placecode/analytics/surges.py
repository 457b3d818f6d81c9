"""Surge and drop detection on daily scan counts: pure functions over numpy arrays.

A venue-day is compared with its baseline, the median of the same weekday over the last
four weeks (the last seven days while history is shorter). The spread is the median
absolute deviation, floored at the Poisson noise of the baseline (√median), so that a
venue with a perfectly flat history does not alarm at one extra scan. An alert needs three
things together: a robust z at or beyond the threshold, a ratio to the baseline, and a
minimum count (a small shop going from 3 to 12 is not a surge). Intraday, today's count up
to an hour is compared with the baseline days' counts up to the same hour, so a surge is
raised in the morning rather than at midnight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

import numpy as np

MAD_TO_SD = 1.4826  # the MAD of a normal distribution, in standard deviations
WEEKS = 4
RECENT_DAYS = 7
MIN_HISTORY = 3  # fewer baseline days than this: no judgement at all


class AlertKind(StrEnum):
    surge = "surge"
    drop = "drop"


@dataclass(frozen=True)
class Thresholds:
    z: float = 3.5
    ratio: float = 2.0  # a surge: at least this many times the baseline
    min_count: int = 50  # a surge: at least this many scans
    drop_ratio: float = 0.4  # a drop: at most this share of the baseline
    drop_min_baseline: int = 50  # a drop: only venues that are usually this busy


@dataclass(frozen=True)
class Assessment:
    """For each venue (arrays of the same length): the verdict and its evidence."""

    kind: np.ndarray  # 1 surge, -1 drop, 0 nothing
    baseline: np.ndarray  # median of the history
    z: np.ndarray
    ratio: np.ndarray


def baseline_days(day: date, first_day: date) -> tuple[list[date], str]:
    """The days a day is compared with: the same weekday in the last four weeks, or while
    the history is shorter than that, the last seven days (as many as there are)."""
    weekdays = [day - timedelta(weeks=week) for week in range(1, WEEKS + 1)]
    if weekdays[-1] >= first_day:
        return weekdays, "same_weekday"
    recent = [day - timedelta(days=n) for n in range(1, RECENT_DAYS + 1)]
    return [d for d in recent if d >= first_day], "recent_days"


def assess(
    counts: np.ndarray, history: np.ndarray, thresholds: Thresholds, drops: bool = True
) -> Assessment:
    """Judge each venue's count against its history (venues × baseline days)."""
    counts = counts.astype(float)
    if history.shape[1] < MIN_HISTORY:
        nothing = np.zeros(len(counts))
        return Assessment(nothing.astype(int), nothing, nothing, nothing)
    median = np.median(history, axis=1)
    mad = np.median(np.abs(history - median[:, None]), axis=1)
    spread = np.maximum(MAD_TO_SD * mad, np.sqrt(np.maximum(median, 1.0)))
    z = (counts - median) / spread
    ratio = counts / np.maximum(median, 1.0)
    surge = (z >= thresholds.z) & (ratio >= thresholds.ratio) & (counts >= thresholds.min_count)
    drop = (
        (z <= -thresholds.z)
        & (ratio <= thresholds.drop_ratio)
        & (median >= thresholds.drop_min_baseline)
    )
    if not drops:
        drop[:] = False
    kind = np.where(surge, 1, np.where(drop, -1, 0))
    return Assessment(kind=kind, baseline=median, z=z, ratio=ratio)
