"""Detection over a demo district: 真南's 18 March surge is raised by midday to the commerce
department and to 真如镇; ordinary days stay quiet; alerts are not repeated; each inbox
shows only its own; acknowledging and resolving are audited."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from placecode.accounts.models import AuditEntry, Role
from placecode.accounts.principal import Principal
from placecode.analytics import service as analytics
from placecode.analytics.models import Alert, RolledUpDay
from placecode.config import Settings
from placecode.demo.district import DistrictPlan
from placecode.errors import Conflict, InvalidInput, NotFound
from tests.analytics.conftest import DAYS


def principal(role: Role, scope: str | None, name: str = "someone") -> Principal:
    return Principal(0, name, name, role, scope, "token")


def test_the_zhennan_surge_is_raised_by_midday_to_commerce_and_its_street(
    session: Session, rules: Settings, district: DistrictPlan
) -> None:
    found = analytics.detect(session=session, settings=rules, day=date(2022, 3, 18), hour=12)
    assert found.basis == "recent_days"  # two weeks of history: the last seven days
    surges = {a.venue_id: a for a in found.raised if a.kind == "surge"}
    alert = surges[district.zhennan.id]
    assert (alert.department_code, alert.street_code) == ("commerce", "zhenruzhen")
    assert alert.raised_hour == 12 and alert.count >= 2 * alert.baseline and alert.z >= 3.5
    # Raised once: the afternoon and the whole day do not repeat it.
    later = analytics.detect(session=session, settings=rules, day=date(2022, 3, 18), hour=18)
    whole = analytics.detect(session=session, settings=rules, day=date(2022, 3, 18))
    assert district.zhennan.id not in {a.venue_id for a in later.raised + whole.raised}
    assert session.scalar(select(func.count()).where(Alert.venue_id == district.zhennan.id)) == 1


def test_ordinary_days_stay_quiet(
    session: Session, rules: Settings, district: DistrictPlan
) -> None:
    raised = 0
    for day in DAYS[7:-1]:  # 11 to 17 March: no surge was planted
        raised += len(analytics.detect(session=session, settings=rules, day=day).raised)
    venues = len(district.venues) * 7
    assert raised <= venues * 0.002, raised  # at most one venue-day in 500


def test_each_inbox_shows_its_own_and_answers_are_audited(
    session: Session, rules: Settings, district: DistrictPlan
) -> None:
    analytics.detect(session=session, settings=rules, day=date(2022, 3, 18), hour=12)
    zhennan = district.zhennan.id

    def seen(who: Principal) -> set[str]:
        return {a.venue_id for a, _name in analytics.alerts_for(session=session, principal=who)}

    commerce = principal(Role.regulator, "commerce", "commerce")
    assert zhennan in seen(commerce)
    assert zhennan in seen(principal(Role.street_admin, "zhenruzhen"))
    assert zhennan in seen(principal(Role.district_admin, None))
    assert zhennan in seen(principal(Role.venue_manager, district.zhennan.organisation_id))
    assert zhennan not in seen(principal(Role.street_admin, "taopu"))
    assert zhennan not in seen(principal(Role.regulator, "health"))
    assert seen(principal(Role.registrar, "nowhere")) == set()
    (alert, name) = next(
        (a, n)
        for a, n in analytics.alerts_for(session=session, principal=commerce)
        if a.venue_id == zhennan
    )
    assert name == "真南农副产品综合市场"
    with pytest.raises(NotFound):
        analytics.acknowledge(
            session=session,
            principal=principal(Role.street_admin, "taopu"),
            actor=principal(Role.street_admin, "taopu"),
            alert_id=alert.id,
        )
    analytics.acknowledge(
        session=session, principal=commerce, actor=commerce, alert_id=alert.id, note="On it"
    )
    with pytest.raises(Conflict):
        analytics.acknowledge(
            session=session, principal=commerce, actor=commerce, alert_id=alert.id
        )
    with pytest.raises(InvalidInput):
        analytics.resolve(
            session=session, principal=commerce, actor=commerce, alert_id=alert.id, note=" "
        )
    done = analytics.resolve(
        session=session,
        principal=commerce,
        actor=commerce,
        alert_id=alert.id,
        note="Extra staff and a queue outside; stock replenished by 14:00.",
    )
    assert (done.status, done.acknowledged_by, done.resolved_by) == (
        "resolved",
        "commerce",
        "commerce",
    )
    actions = set(
        session.scalars(select(AuditEntry.action).where(AuditEntry.target == str(alert.id)))
    )
    assert actions == {"analytics.acknowledge", "analytics.resolve"}


def test_a_whole_day_is_judged_alike_from_the_hours_and_from_the_rolled_up_days(
    session: Session, rules: Settings, district: DistrictPlan
) -> None:
    day = date(2022, 3, 18)

    def judged() -> list[tuple[str, str, int, float]]:
        found = analytics.detect(session=session, settings=rules, day=day)
        return sorted((a.venue_id, a.kind, a.count, a.baseline) for a in found.raised)

    with session.begin_nested() as raw:
        from_hours = judged()
        raw.rollback()
    for past in DAYS:
        analytics.roll_up(session=session, settings=rules, day=past)
    # Every day of the comparison is rolled up whole, so its venue-days are what is read.
    through = session.execute(select(RolledUpDay.day, RolledUpDay.through)).all()
    assert len(through) == len(DAYS)
    assert all(mark >= analytics.midnight(d + timedelta(days=1), rules) for d, mark in through)
    assert from_hours and judged() == from_hours


def test_judging_days_in_a_row_with_the_counts_kept_raises_the_same_alerts(
    session: Session, rules: Settings, district: DistrictPlan
) -> None:
    def judged(counted: analytics.Counted | None) -> list[tuple[str, str, date, int]]:
        raised = []
        for day in DAYS:
            for hour in (12, 24):
                found = analytics.detect(
                    session=session, settings=rules, day=day, hour=hour, counted=counted
                )
                raised += [(a.venue_id, a.kind, a.day, a.raised_hour) for a in found.raised]
        return raised

    with session.begin_nested() as fresh:
        each_time = judged(None)
        fresh.rollback()
    counted: analytics.Counted = {}
    assert each_time and judged(counted) == each_time
    assert len(counted) == 2 * len(DAYS)  # each day's counts read once for each hour
