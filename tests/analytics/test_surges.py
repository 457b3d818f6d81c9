"""Surge and drop rules on constructed series: a clear surge fires; the weekly rhythm does
not; a small venue going from 3 to 12 does not; a drop fires; a short history falls back
to the last days; the intraday rule fires before the day is over."""

from __future__ import annotations

from datetime import date

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from placecode.analytics.surges import Thresholds, assess, baseline_days

RULES = Thresholds()


def judge(count: float, history: list[float], drops: bool = True) -> tuple[int, float, float]:
    verdict = assess(np.array([count]), np.array([history]), RULES, drops=drops)
    return int(verdict.kind[0]), float(verdict.z[0]), float(verdict.ratio[0])


def test_a_clear_surge_fires_with_its_evidence() -> None:
    kind, z, ratio = judge(14_425, [4_110, 4_263, 3_997, 4_180])
    assert kind == 1 and ratio > 3 and z > 10


def test_an_ordinary_day_does_not() -> None:
    assert judge(4_300, [4_110, 4_263, 3_997, 4_180])[0] == 0
    # Saturdays are compared with Saturdays: a weekend rhythm of -30 % is not a drop.
    assert judge(2_900, [2_950, 3_020, 2_870, 2_990])[0] == 0


def test_a_small_venue_tripling_is_not_a_surge() -> None:
    kind, _z, ratio = judge(12, [3, 3, 4, 3])
    assert kind == 0 and ratio >= 3  # the minimum count holds it back


def test_a_busy_venue_falling_away_is_a_drop_but_a_quiet_one_is_not() -> None:
    assert judge(300, [2_000, 2_100, 1_950, 2_050])[0] == -1
    assert judge(0, [20, 22, 19, 21])[0] == 0  # usually under the drop minimum
    assert judge(300, [2_000, 2_100, 1_950, 2_050], drops=False)[0] == 0


def test_a_flat_history_does_not_alarm_at_noise() -> None:
    # MAD is 0; the spread is floored at the Poisson noise √100 = 10.
    assert judge(125, [100, 100, 100, 100])[0] == 0
    assert judge(260, [100, 100, 100, 100])[0] == 1


def test_history_falls_back_to_the_last_days_while_short() -> None:
    days, basis = baseline_days(date(2022, 3, 18), first_day=date(2022, 2, 1))
    assert basis == "same_weekday"
    assert days == [date(2022, 3, 11), date(2022, 3, 4), date(2022, 2, 25), date(2022, 2, 18)]
    days, basis = baseline_days(date(2022, 3, 18), first_day=date(2022, 3, 10))
    assert basis == "recent_days" and days[0] == date(2022, 3, 17) and days[-1] == date(2022, 3, 11)
    days, _basis = baseline_days(date(2022, 3, 18), first_day=date(2022, 3, 16))
    assert days == [date(2022, 3, 17), date(2022, 3, 16)]
    # Too little history for any judgement.
    assert judge(10_000, [100, 100])[0] == 0


def test_the_intraday_rule_fires_in_the_morning() -> None:
    # By 11:00 a market usually has about 1,500 scans; today it has 6,000.
    assert judge(6_000, [1_480, 1_530, 1_450, 1_560], drops=False)[0] == 1


@given(
    history=st.lists(st.integers(0, 5_000), min_size=3, max_size=7),
    count=st.integers(0, 20_000),
)
def test_a_surge_always_carries_all_three_conditions(history: list[int], count: int) -> None:
    kind, z, ratio = judge(count, [float(h) for h in history])
    if kind == 1:
        assert z >= RULES.z and ratio >= RULES.ratio and count >= RULES.min_count
    if kind == -1:
        assert z <= -RULES.z and ratio <= RULES.drop_ratio
        assert float(np.median(history)) >= RULES.drop_min_baseline
