from datetime import UTC, date, datetime, timedelta

from placecode.clock import Clock
from placecode.config import load_settings


def test_a_shifted_clock_keeps_the_time_of_day_on_the_chosen_day() -> None:
    clock = Clock()
    before = datetime.now(UTC).astimezone(clock.zone)
    clock.shift_to(date(2022, 3, 24))
    shifted = clock.local_now()
    assert shifted.date() == date(2022, 3, 24) or (
        # the wall clock may pass midnight between the two readings
        shifted.date() == date(2022, 3, 25) and before.hour == 23
    )
    assert abs(
        shifted.replace(year=before.year, month=before.month, day=before.day) - before
    ) < timedelta(seconds=5)


def test_a_shifted_clock_runs_on() -> None:
    clock = Clock()
    clock.shift_to(date(2022, 3, 24))
    first = clock.now()
    second = clock.now()
    assert second >= first


def test_a_frozen_clock_stands_still_and_can_be_advanced() -> None:
    clock = Clock()
    clock.freeze(datetime(2022, 3, 18, 9, 30))  # naive: Shanghai local time
    assert clock.now() == datetime(2022, 3, 18, 1, 30, tzinfo=UTC)
    assert clock.now() == clock.now()
    clock.advance(timedelta(hours=15))
    assert clock.today() == date(2022, 3, 19)


def test_settings_configure_the_clock() -> None:
    clock = Clock()
    clock.configure(load_settings(clock_today=date(2022, 3, 24)))
    assert clock.today() in (date(2022, 3, 24), date(2022, 3, 25))
    clock.configure(load_settings(clock_frozen_at=datetime(2022, 3, 18, 12, 0, tzinfo=UTC)))
    assert clock.now() == datetime(2022, 3, 18, 12, 0, tzinfo=UTC)
    clock.configure(load_settings())
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_the_start_of_a_day_is_midnight_in_shanghai() -> None:
    clock = Clock()
    assert clock.start_of_day(date(2022, 3, 18)) == datetime(2022, 3, 17, 16, 0, tzinfo=UTC)
