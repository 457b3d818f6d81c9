"""A day of scans in the demo district, planned as numpy arrays: who, where, when, through
which channel. People keep to their habits (their market, their shops, their workplace on
weekdays, home), the time of day follows the real half-hour profile, and the 真南 market
draws a crowd on 18 March 2022 as the seed report says."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from placecode.demo.district import VenuePlan
from placecode.demo.population import POPULARITY, Population
from placecode.demo.profile import SLOT_SECONDS, day_profile

SCANS_PER_DAY = 400_000
SURGE_DAY = date(2022, 3, 18)
SURGE_SHARE = 0.025  # of the day's scans, on top of its usual: over 10,000 at full scale
DEDUPE_SECONDS = 300
CHANNELS = ("suishenban", "wechat", "alipay", "sentinel", "paper")
CHANNEL_SHARES = (0.45, 0.25, 0.2, 0.06, 0.04)
# What a scan is: the usual market, an errand, work, home, or a popular place anywhere.
HABITS = ("market", "errand", "work", "home", "outing")
HABIT_SHARES = (0.3, 0.27, 0.18, 0.1, 0.15)
PAPER = CHANNELS.index("paper")
WITH_ELDER = 0.5  # how often a relative takes their elder along to the market or shops


@dataclass
class DayOfScans:
    person: np.ndarray  # resident index
    venue: np.ndarray  # venue index
    second: np.ndarray  # seconds after the day's local midnight
    channel: np.ndarray  # index into CHANNELS
    companion_of: np.ndarray  # the relative's resident index for a companion scan, or -1

    def __len__(self) -> int:
        return len(self.person)


def popularity(venues: list[VenuePlan]) -> np.ndarray:
    """How likely each venue is as an outing (sums to 1)."""
    weights = np.array([POPULARITY.get(v.category_code, 1.0) for v in venues])
    shares: np.ndarray = weights / weights.sum()
    return shares


def plan_day(
    *,
    day: date,
    population: Population,
    outing: np.ndarray,
    zhennan_index: int,
    per_day: int = SCANS_PER_DAY,
    seed: int = 2022,
) -> DayOfScans:
    """One day's scans, deduplicated as the live system folds a repeated scan."""
    rng = np.random.default_rng([seed, day.toordinal()])
    weekend = day.weekday() >= 5
    count = int(rng.normal(per_day * (0.9 if weekend else 1.0), per_day * 0.02))
    activity = population.activity / population.activity.sum()
    person = rng.choice(len(population), size=count, p=activity)
    habit = rng.choice(len(HABITS), size=count, p=HABIT_SHARES)
    working = population.work[person] >= 0
    habit[(habit == 2) & (~working | weekend)] = 1  # no work today: an errand instead
    venue = np.empty(count, dtype=np.int64)
    chosen = habit == 0
    venue[chosen] = population.market[person[chosen]]
    chosen = habit == 1
    venue[chosen] = population.errands[person[chosen], rng.integers(3, size=int(chosen.sum()))]
    chosen = habit == 2
    venue[chosen] = population.work[person[chosen]]
    chosen = habit == 3
    venue[chosen] = population.home[person[chosen]]
    chosen = habit == 4
    venue[chosen] = rng.choice(len(outing), size=int(chosen.sum()), p=outing)
    slot = rng.choice(48, size=count, p=day_profile(day))
    second = slot * SLOT_SECONDS + rng.integers(SLOT_SECONDS, size=count)
    if day == SURGE_DAY:  # people stocking up at 真南 (the seed report's example)
        surge = int(per_day * SURGE_SHARE)
        extra = rng.choice(len(population), size=surge, p=activity)
        person = np.concatenate([person, extra])
        venue = np.concatenate([venue, np.full(surge, zhennan_index)])
        hours = rng.normal(10.5 * 3600, 2.5 * 3600, size=surge).clip(6 * 3600, 20 * 3600)
        second = np.concatenate([second, hours.astype(np.int64)])
    channel = rng.choice(len(CHANNELS), size=len(person), p=CHANNEL_SHARES)
    channel[population.guardian[person] >= 0] = PAPER  # an elder alone: on paper at the door
    # A relative out shopping takes their elder along, checked in with them as a companion.
    shopping = np.isin(habit, (0, 1), assume_unique=True)
    shopping = np.concatenate([shopping, np.ones(len(person) - len(habit), dtype=bool)])
    along = np.flatnonzero(
        (population.ward[person] >= 0) & shopping & (rng.random(len(person)) < WITH_ELDER)
    )
    companion_of = np.concatenate([np.full(len(person), -1), person[along]])
    person = np.concatenate([person, population.ward[person[along]]])
    venue = np.concatenate([venue, venue[along]])
    second = np.concatenate([second, second[along]])
    channel = np.concatenate([channel, channel[along]])
    return _folded(DayOfScans(person, venue, second, channel, companion_of))


def _folded(scans: DayOfScans) -> DayOfScans:
    """Drop a scan of the same person at the same venue within the dedupe window, and sort
    by time (the order they are written in)."""
    order = np.lexsort((scans.second, scans.venue, scans.person))
    person, venue, second = scans.person[order], scans.venue[order], scans.second[order]
    repeat = np.zeros(len(order), dtype=bool)
    repeat[1:] = (
        (person[1:] == person[:-1])
        & (venue[1:] == venue[:-1])
        & (second[1:] - second[:-1] < DEDUPE_SECONDS)
    )
    kept = order[~repeat]
    kept = kept[np.argsort(scans.second[kept], kind="stable")]
    return DayOfScans(
        scans.person[kept],
        scans.venue[kept],
        scans.second[kept],
        scans.channel[kept],
        scans.companion_of[kept],
    )
