"""The colour rules, entry policies and vaccination states, at every boundary."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from placecode.health.status import (
    Colour,
    Dose,
    Event,
    EventKind,
    HealthRecord,
    Nat,
    NatResult,
    PersonStatus,
    Rules,
    VaccinationState,
    entry_decision,
    status_at,
    timeline,
    vaccination_state,
)
from placecode.region.models import EntryPolicy

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2022, 3, 20, 9, 0, tzinfo=SHANGHAI)
RULES = Rules()
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


def colour(record: HealthRecord, at: datetime, rules: Rules = RULES) -> Colour:
    return status_at(record, at, rules).colour


def events(*pairs: tuple[EventKind, datetime]) -> HealthRecord:
    return HealthRecord(events=tuple(Event(kind, at) for kind, at in pairs))


@pytest.mark.parametrize(
    ("kind", "period"),
    [
        (EventKind.close_contact, RULES.close_contact),
        (EventKind.secondary_contact, RULES.secondary_contact),
        (EventKind.risk_area, RULES.risk_area),
    ],
)
@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (-MINUTE, Colour.green),  # before the contact
        (timedelta(0), Colour.red),  # from the moment it happened
        (7 * DAY - MINUTE, Colour.red),  # the quarantine's last minute
        (7 * DAY, Colour.green),  # it ends on the dot
        (7 * DAY + MINUTE, Colour.green),  # the first minute after
    ],
)
def test_contacts_and_arrivals_are_red_for_their_period(
    kind: EventKind, period: timedelta, offset: timedelta, expected: Colour
) -> None:
    assert period == 7 * DAY
    assert colour(events((kind, T0)), T0 + offset) is expected


def test_a_quarantine_says_until_when() -> None:
    status = status_at(events((EventKind.close_contact, T0)), T0 + DAY, RULES)
    assert status.until == T0 + 7 * DAY
    (reason,) = status.reasons
    assert reason.kind == "close_contact"
    assert "2022-03-27 09:00" in reason.text


def test_a_longer_period_is_a_setting() -> None:
    rules = Rules(close_contact=14 * DAY)
    record = events((EventKind.close_contact, T0))
    assert colour(record, T0 + 10 * DAY, rules) is Colour.red
    assert colour(record, T0 + 14 * DAY, rules) is Colour.green


@pytest.mark.parametrize(
    ("nat_offset", "at_offset", "expected"),
    [
        (None, timedelta(hours=2), Colour.yellow),  # no NAT yet
        (-timedelta(hours=1), timedelta(hours=2), Colour.yellow),  # sampled before: no help
        (timedelta(0), timedelta(hours=2), Colour.yellow),  # sampled at the same minute: no help
        (timedelta(hours=1), timedelta(hours=2), Colour.green),  # sampled after: clears
        (timedelta(hours=1), timedelta(minutes=30), Colour.yellow),  # …but not before it exists
        (None, 7 * DAY - MINUTE, Colour.yellow),  # the period's last minute
        (None, 7 * DAY + MINUTE, Colour.green),  # the period has ended
    ],
)
def test_an_exposure_is_yellow_until_a_negative_nat_sampled_after_it(
    nat_offset: timedelta | None, at_offset: timedelta, expected: Colour
) -> None:
    nats = () if nat_offset is None else (Nat(T0 + nat_offset, NatResult.negative),)
    record = HealthRecord(events=(Event(EventKind.exposure, T0),), nats=nats)
    assert colour(record, T0 + at_offset) is expected


def test_a_pending_or_positive_nat_after_an_exposure_does_not_clear_it() -> None:
    for result, expected in ((NatResult.pending, Colour.yellow), (NatResult.positive, Colour.red)):
        record = HealthRecord(
            events=(Event(EventKind.exposure, T0),), nats=(Nat(T0 + DAY, result),)
        )
        assert colour(record, T0 + 2 * DAY) is expected


@pytest.mark.parametrize("kind", [EventKind.confirmed, EventKind.asymptomatic, EventKind.suspected])
def test_cases_are_red_until_cleared(kind: EventKind) -> None:
    record = events((kind, T0))
    status = status_at(record, T0 + 100 * DAY, RULES)
    assert status.colour is Colour.red
    assert status.until is None
    cleared = events((kind, T0), (EventKind.cleared, T0 + 20 * DAY))
    assert colour(cleared, T0 + 20 * DAY - MINUTE) is Colour.red
    assert colour(cleared, T0 + 20 * DAY) is Colour.green
    again = events((kind, T0), (EventKind.cleared, T0 + 20 * DAY), (kind, T0 + 30 * DAY))
    assert colour(again, T0 + 31 * DAY) is Colour.red


def test_a_positive_nat_is_red_until_cleared() -> None:
    record = HealthRecord(nats=(Nat(T0, NatResult.positive), Nat(T0 + DAY, NatResult.negative)))
    status = status_at(record, T0 + 2 * DAY, RULES)
    assert status.colour is Colour.red
    assert status.nat == Nat(T0 + DAY, NatResult.negative)  # the latest test is still shown
    cleared = HealthRecord(events=(Event(EventKind.cleared, T0 + 3 * DAY),), nats=record.nats)
    assert colour(cleared, T0 + 3 * DAY) is Colour.green


def test_a_clearance_ends_only_what_began_before_it() -> None:
    record = events(
        (EventKind.exposure, T0),
        (EventKind.cleared, T0 + DAY),
        (EventKind.close_contact, T0 + 2 * DAY),
    )
    assert colour(record, T0 + DAY + MINUTE) is Colour.green
    assert colour(record, T0 + 2 * DAY) is Colour.red


def test_red_outranks_yellow_and_both_reasons_are_given() -> None:
    record = events((EventKind.exposure, T0), (EventKind.close_contact, T0 + DAY))
    status = status_at(record, T0 + 2 * DAY, RULES)
    assert status.colour is Colour.red
    assert [r.kind for r in status.reasons] == ["close_contact", "exposure"]
    assert status.until == T0 + 8 * DAY  # when the red ends


def test_repeated_contacts_keep_the_longest_quarantine() -> None:
    record = events((EventKind.close_contact, T0), (EventKind.close_contact, T0 + 3 * DAY))
    status = status_at(record, T0 + 4 * DAY, RULES)
    assert len(status.reasons) == 1
    assert status.until == T0 + 10 * DAY


@pytest.mark.parametrize(
    ("last_nat", "expected"),
    [
        (None, Colour.yellow),
        (7 * DAY - MINUTE, Colour.green),
        (7 * DAY, Colour.yellow),
    ],
)
def test_no_nat_within_seven_days_is_yellow_only_when_switched_on(
    last_nat: timedelta | None, expected: Colour
) -> None:
    now = T0 + 30 * DAY
    nats = () if last_nat is None else (Nat(now - last_nat, NatResult.negative),)
    record = HealthRecord(nats=nats)
    assert colour(record, now) is Colour.green  # off by default
    assert colour(record, now, Rules(yellow_without_nat=True)) is expected


def test_a_timeline_lists_each_change_of_colour() -> None:
    record = HealthRecord(
        events=(Event(EventKind.exposure, T0), Event(EventKind.close_contact, T0 + 2 * DAY)),
        nats=(Nat(T0 + DAY, NatResult.negative),),
    )
    periods = timeline(record, RULES, T0 + 30 * DAY)
    assert [(p.since, p.status.colour) for p in periods] == [
        (T0, Colour.yellow),
        (T0 + DAY, Colour.green),
        (T0 + 2 * DAY, Colour.red),
        (T0 + 9 * DAY, Colour.green),
    ]


# --- entry policies --------------------------------------------------------------------


def green_with(nat: Nat | None) -> PersonStatus:
    return PersonStatus(colour=Colour.green, nat=nat)


@pytest.mark.parametrize(
    ("policy", "hours", "result", "allowed"),
    [
        (EntryPolicy.green_nat48, 47 + 59 / 60, NatResult.negative, True),
        (EntryPolicy.green_nat48, 48 + 1 / 60, NatResult.negative, False),
        (EntryPolicy.green_nat72, 71 + 59 / 60, NatResult.negative, True),
        (EntryPolicy.green_nat72, 72 + 1 / 60, NatResult.negative, False),
        (EntryPolicy.green_nat72, 2, NatResult.pending, False),
        (EntryPolicy.green_nat72, 2, NatResult.positive, False),
        (EntryPolicy.green_nat72_or_sampled24, 23 + 59 / 60, NatResult.pending, True),
        (EntryPolicy.green_nat72_or_sampled24, 24 + 1 / 60, NatResult.pending, False),
        (EntryPolicy.green_nat72_or_sampled24, 71, NatResult.negative, True),
        (EntryPolicy.green, 500, NatResult.negative, True),
    ],
)
def test_entry_policies_at_their_boundaries(
    policy: EntryPolicy, hours: float, result: NatResult, allowed: bool
) -> None:
    at = T0 + timedelta(days=5)
    nat = Nat(at - timedelta(hours=hours), result)
    decision = entry_decision(green_with(nat), policy, at)
    assert decision.allowed is allowed, decision.reason
    assert decision.reason


def test_an_entry_refusal_says_how_old_the_nat_is_and_what_is_needed() -> None:
    at = T0 + DAY * 5
    decision = entry_decision(
        green_with(Nat(at - timedelta(hours=53), NatResult.negative)), EntryPolicy.green_nat48, at
    )
    assert decision.allowed is False
    assert decision.reason == "NAT sampled 53 h 0 min ago; this venue needs one within 48 hours."


def test_a_yellow_code_may_not_enter_even_a_green_only_venue() -> None:
    decision = entry_decision(PersonStatus(colour=Colour.yellow), EntryPolicy.green, T0)
    assert decision.allowed is False
    assert "yellow" in decision.reason


def test_no_nat_is_refused_where_one_is_needed() -> None:
    decision = entry_decision(green_with(None), EntryPolicy.green_nat72, T0)
    assert decision.allowed is False
    assert "72" in decision.reason


# --- vaccination -------------------------------------------------------------------------


def doses(*given: tuple[int, str]) -> list[Dose]:
    return [Dose(number, date(2021, 1, number + 1), product) for number, product in given]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ((), VaccinationState.no_record),
        (((1, "北京科兴 CoronaVac"),), VaccinationState.primary_incomplete),
        (((1, "Sinopharm BBIBP"), (2, "Sinopharm BBIBP")), VaccinationState.primary_complete),
        (((1, "科兴"), (2, "科兴"), (3, "科兴")), VaccinationState.booster_complete),
        (((1, "康希诺 Convidecia"),), VaccinationState.primary_complete),
        (((1, "CanSino"), (2, "CanSino")), VaccinationState.booster_complete),
        (((1, "智飞 ZF2001"), (2, "智飞 ZF2001")), VaccinationState.primary_incomplete),
        (((1, "ZF2001"), (2, "ZF2001"), (3, "ZF2001")), VaccinationState.primary_complete),
        (((0, ""),), VaccinationState.not_suitable),
        (((0, ""), (1, "科兴")), VaccinationState.not_suitable),
        (((0, ""), (1, "科兴"), (2, "科兴")), VaccinationState.primary_complete),
    ],
)
def test_vaccination_states(given: tuple[tuple[int, str], ...], expected: VaccinationState) -> None:
    assert vaccination_state(doses(*given)) is expected


# --- properties --------------------------------------------------------------------------

offsets = st.integers(min_value=0, max_value=20 * 24 * 60).map(lambda m: T0 + m * MINUTE)
event_lists = st.lists(st.builds(Event, st.sampled_from(list(EventKind)), offsets), max_size=8)
nat_lists = st.lists(st.builds(Nat, offsets, st.sampled_from(list(NatResult))), max_size=6)
rule_sets = st.sampled_from([RULES, Rules(yellow_without_nat=True, exposure=3 * DAY)])


@given(
    event_lists.flatmap(lambda e: st.tuples(st.just(e), st.permutations(e))),
    nat_lists.flatmap(lambda n: st.tuples(st.just(n), st.permutations(n))),
    offsets,
    rule_sets,
)
def test_the_order_in_which_records_arrive_never_matters(
    events_pair: tuple[list[Event], list[Event]],
    nats_pair: tuple[list[Nat], list[Nat]],
    at: datetime,
    rules: Rules,
) -> None:
    first = HealthRecord(events=tuple(events_pair[0]), nats=tuple(nats_pair[0]))
    shuffled = HealthRecord(events=tuple(events_pair[1]), nats=tuple(nats_pair[1]))
    assert status_at(first, at, rules) == status_at(shuffled, at, rules)


@given(event_lists, nat_lists, event_lists, nat_lists, offsets, rule_sets)
def test_the_status_at_a_moment_ignores_everything_recorded_for_later(
    events: list[Event],
    nats: list[Nat],
    later_events: list[Event],
    later_nats: list[Nat],
    at: datetime,
    rules: Rules,
) -> None:
    known = HealthRecord(
        events=tuple(e for e in events if e.occurred_at <= at),
        nats=tuple(n for n in nats if n.sampled_at <= at),
    )
    future = HealthRecord(
        events=known.events
        + tuple(Event(e.kind, at + MINUTE + (e.occurred_at - T0)) for e in later_events),
        nats=known.nats
        + tuple(Nat(at + MINUTE + (n.sampled_at - T0), n.result) for n in later_nats),
    )
    everything = HealthRecord(events=tuple(events), nats=tuple(nats))
    assert status_at(everything, at, rules) == status_at(known, at, rules)
    assert status_at(future, at, rules) == status_at(known, at, rules)
