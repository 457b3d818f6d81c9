"""The colour rules: a person's status at any instant from their health record, with its
reasons and when it changes; vaccination state; and a venue's entry decision.

Everything here is a pure function of the records, so the scan path (from memory), the
"why" page and a CDC analyst's history (from the database) give the same answer, and the
order in which records arrived never matters.

Default rules (after Shanghai's 2022 rules; every period is a setting): red for a positive
NAT, or a confirmed, asymptomatic or suspected case, until the CDC clears it; red for a
close or secondary contact and a risk-area arrival for their periods; yellow for an
exposure at a risky venue until a negative NAT sampled after it (or its period ends), and,
if switched on, for no NAT within a week; green otherwise. A clearance ends everything that
began at or before it.

The entry decision follows the venue's policy (green; green with a negative NAT sampled
within 48 or 72 hours; or within 72 hours or a sampling record within 24 hours) and always
says why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from placecode.clock import clock
from placecode.config import Settings
from placecode.i18n import N_, _
from placecode.region.models import EntryPolicy


class Colour(StrEnum):
    green = "green"
    yellow = "yellow"
    red = "red"


COLOUR_LABELS = {Colour.green: N_("Green"), Colour.yellow: N_("Yellow"), Colour.red: N_("Red")}


class NatResult(StrEnum):
    negative = "negative"
    positive = "positive"
    pending = "pending"


NAT_LABELS = {
    NatResult.negative: N_("Negative"),
    NatResult.positive: N_("Positive"),
    NatResult.pending: N_("Result pending"),
}


class VaccinationState(StrEnum):
    booster_complete = "booster_complete"
    primary_complete = "primary_complete"
    primary_incomplete = "primary_incomplete"
    not_suitable = "not_suitable"
    no_record = "no_record"


VACCINATION_LABELS = {
    VaccinationState.booster_complete: N_("Booster complete"),
    VaccinationState.primary_complete: N_("Primary course complete"),
    VaccinationState.primary_incomplete: N_("Primary course incomplete"),
    VaccinationState.not_suitable: N_("Not suitable for vaccination (medical exemption)"),
    VaccinationState.no_record: N_("No vaccination record"),
}


class EventKind(StrEnum):
    confirmed = "confirmed"
    asymptomatic = "asymptomatic"
    suspected = "suspected"
    close_contact = "close_contact"
    secondary_contact = "secondary_contact"
    risk_area = "risk_area"
    exposure = "exposure"
    cleared = "cleared"


EVENT_LABELS = {
    EventKind.confirmed: N_("Confirmed case"),
    EventKind.asymptomatic: N_("Asymptomatic infection"),
    EventKind.suspected: N_("Suspected case"),
    EventKind.close_contact: N_("Close contact"),
    EventKind.secondary_contact: N_("Secondary contact"),
    EventKind.risk_area: N_("Arrival from a risk area"),
    EventKind.exposure: N_("Exposure at a risky venue"),
    EventKind.cleared: N_("Cleared"),
}

# Red until the CDC clears them.
CASES = frozenset({EventKind.confirmed, EventKind.asymptomatic, EventKind.suspected})
POSITIVE_NAT = "positive_nat"
NO_RECENT_NAT = "no_recent_nat"


@dataclass(frozen=True)
class Event:
    kind: EventKind
    occurred_at: datetime


class Nat(NamedTuple):
    """A nucleic-acid test."""

    sampled_at: datetime
    result: NatResult

    def hours_before(self, at: datetime) -> float:
        return (at - self.sampled_at).total_seconds() / 3600


@dataclass(frozen=True)
class Dose:
    """A vaccine dose (numbered from 1), or dose 0: a medical exemption."""

    dose: int
    vaccinated_at: date
    product: str


@dataclass(frozen=True)
class HealthRecord:
    """Everything the rules look at for one person."""

    events: tuple[Event, ...] = ()
    nats: tuple[Nat, ...] = ()
    vaccination: VaccinationState = VaccinationState.no_record


@dataclass(frozen=True)
class Rules:
    """The periods and switches of the colour rules (settings)."""

    close_contact: timedelta = timedelta(days=7)
    secondary_contact: timedelta = timedelta(days=7)
    risk_area: timedelta = timedelta(days=7)
    exposure: timedelta = timedelta(days=7)
    yellow_without_nat: bool = False
    nat_window: timedelta = timedelta(days=7)

    @classmethod
    def of(cls, settings: Settings) -> Rules:
        return cls(
            close_contact=timedelta(days=settings.close_contact_days),
            secondary_contact=timedelta(days=settings.secondary_contact_days),
            risk_area=timedelta(days=settings.risk_area_days),
            exposure=timedelta(days=settings.exposure_days),
            yellow_without_nat=settings.yellow_without_nat,
            nat_window=timedelta(days=settings.nat_window_days),
        )

    def period(self, kind: EventKind) -> timedelta | None:
        """How long an event of this kind lasts (None: until cleared)."""
        return {
            EventKind.close_contact: self.close_contact,
            EventKind.secondary_contact: self.secondary_contact,
            EventKind.risk_area: self.risk_area,
            EventKind.exposure: self.exposure,
        }.get(kind)


def local(moment: datetime) -> str:
    return moment.astimezone(clock.zone).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Reason:
    """One reason for a colour: what, since when, until when (None: until cleared)."""

    kind: str  # an EventKind, POSITIVE_NAT or NO_RECENT_NAT
    colour: Colour
    since: datetime | None
    until: datetime | None
    days: int | None = None

    @property
    def text(self) -> str:
        """The reason as a person reads it, in the request's language."""
        since = local(self.since) if self.since else ""
        until = local(self.until) if self.until else ""
        texts = {
            EventKind.confirmed: _("Confirmed case since {since}, until the CDC clears it."),
            EventKind.asymptomatic: _(
                "Asymptomatic infection since {since}, until the CDC clears it."
            ),
            EventKind.suspected: _("Suspected case since {since}, until the CDC clears it."),
            EventKind.close_contact: _("Close contact on {since}: quarantine until {until}."),
            EventKind.secondary_contact: _(
                "Secondary contact on {since}: quarantine until {until}."
            ),
            EventKind.risk_area: _(
                "Arrived from a risk area on {since}: health monitoring until {until}."
            ),
            EventKind.exposure: _(
                "At a venue with a case on {since}: yellow until a negative NAT sampled after "
                "that, at the latest until {until}."
            ),
            POSITIVE_NAT: _("Positive NAT sampled {since}, until the CDC clears it."),
            NO_RECENT_NAT: _("No NAT sampled within the last {days} days."),
        }
        return texts[self.kind].format(since=since, until=until, days=self.days)


class PersonStatus(NamedTuple):
    """A person's colour at a moment, why, until when, latest NAT and vaccination state.

    (Tuples rather than frozen dataclasses: the scan path builds one per person per scan,
    and a tuple is built several times faster.)
    """

    colour: Colour
    reasons: tuple[Reason, ...] = ()
    until: datetime | None = None
    nat: Nat | None = None
    vaccination: VaccinationState = VaccinationState.no_record


@dataclass(frozen=True)
class EntryDecision:
    allowed: bool
    reason: str = field(default="")


GREEN = PersonStatus(colour=Colour.green)
_COLOUR_RANK = {Colour.red: 0, Colour.yellow: 1, Colour.green: 2}
_RESULT_RANK = {NatResult.negative: 0, NatResult.pending: 1, NatResult.positive: 2}


def latest_nat(nats: Iterable[Nat], at: datetime) -> Nat | None:
    """The test sampled last at or before `at`."""
    taken = [nat for nat in nats if nat.sampled_at <= at]
    return max(taken, key=lambda n: (n.sampled_at, _RESULT_RANK[n.result]), default=None)


def _longest(reasons: Iterable[Reason]) -> list[Reason]:
    """One reason per kind: the one lasting longest (open-ended first), then the earliest."""
    chosen: dict[str, Reason] = {}
    for reason in sorted(reasons, key=_lasting_first):
        chosen.setdefault(reason.kind, reason)
    return list(chosen.values())


def _lasting_first(reason: Reason) -> tuple[bool, float, float]:
    until = -reason.until.timestamp() if reason.until else 0.0
    since = reason.since.timestamp() if reason.since else 0.0
    return (reason.until is not None, until, since)


def status_at(record: HealthRecord, at: datetime, rules: Rules) -> PersonStatus:
    """The person's colour at `at`, with its reasons and when it changes.

    Only records from at or before `at` count, and their order does not matter.
    """
    events = [event for event in record.events if event.occurred_at <= at]
    nats = [nat for nat in record.nats if nat.sampled_at <= at]
    cleared = max(
        (e.occurred_at for e in events if e.kind is EventKind.cleared),
        default=None,
    )
    reasons: list[Reason] = []
    for event in events:
        kind, since = event.kind, event.occurred_at
        if kind is EventKind.cleared or (cleared is not None and since <= cleared):
            continue
        if kind in CASES:
            reasons.append(Reason(kind, Colour.red, since, None))
            continue
        period = rules.period(kind)
        assert period is not None
        until = since + period
        if at >= until:
            continue
        if kind is not EventKind.exposure:
            reasons.append(Reason(kind, Colour.red, since, until))
        elif not any(n.result is NatResult.negative and n.sampled_at > since for n in nats):
            reasons.append(Reason(kind, Colour.yellow, since, until))
    for nat in nats:
        if nat.result is NatResult.positive and (cleared is None or nat.sampled_at > cleared):
            reasons.append(Reason(POSITIVE_NAT, Colour.red, nat.sampled_at, None))
    last = latest_nat(nats, at)
    if rules.yellow_without_nat and (last is None or at - last.sampled_at >= rules.nat_window):
        reasons.append(Reason(NO_RECENT_NAT, Colour.yellow, None, None, rules.nat_window.days))
    reasons = sorted(
        _longest(reasons),
        key=lambda r: (_COLOUR_RANK[r.colour], r.since or at, r.kind),
    )
    if not reasons:
        return PersonStatus(colour=Colour.green, nat=last, vaccination=record.vaccination)
    colour = reasons[0].colour
    ends = [r.until for r in reasons if r.colour is colour]
    changes_at = None if any(end is None for end in ends) else max(e for e in ends if e)
    return PersonStatus(
        colour=colour,
        reasons=tuple(reasons),
        until=changes_at,
        nat=last,
        vaccination=record.vaccination,
    )


@dataclass(frozen=True)
class StatusPeriod:
    since: datetime
    status: PersonStatus


def timeline(record: HealthRecord, rules: Rules, end: datetime) -> list[StatusPeriod]:
    """How the colour changed up to `end`: one entry per change."""
    moments: set[datetime] = set()
    for event in record.events:
        moments.add(event.occurred_at)
        period = rules.period(event.kind)
        if period is not None:
            moments.add(event.occurred_at + period)
    for nat in record.nats:
        moments.add(nat.sampled_at)
        if rules.yellow_without_nat:
            moments.add(nat.sampled_at + rules.nat_window)
    periods: list[StatusPeriod] = []
    for moment in sorted(m for m in moments if m <= end):
        status = status_at(record, moment, rules)
        previous = periods[-1].status if periods else GREEN
        if status.colour is not previous.colour or _kinds(status) != _kinds(previous):
            periods.append(StatusPeriod(since=moment, status=status))
    return periods


def _kinds(status: PersonStatus) -> tuple[str, ...]:
    return tuple(reason.kind for reason in status.reasons)


# Doses in the primary course of the vaccines given in China in 2022; others count as two.
PRIMARY_DOSES = {
    "cansino": 1,
    "convidecia": 1,
    "康希诺": 1,
    "克威莎": 1,
    "zf2001": 3,
    "zifivax": 3,
    "智飞": 3,
    "重组新冠": 3,
}
DEFAULT_PRIMARY_DOSES = 2


def primary_doses(product: str) -> int:
    name = product.lower().replace(" ", "")
    for marker, doses in PRIMARY_DOSES.items():
        if marker in name:
            return doses
    return DEFAULT_PRIMARY_DOSES


def vaccination_state(doses: Sequence[Dose]) -> VaccinationState:
    """Booster complete, primary complete, primary incomplete, not suitable, or no record."""
    given = [dose for dose in doses if dose.dose > 0]
    if given:
        first = min(given, key=lambda d: (d.dose, d.vaccinated_at, d.product))
        primary = primary_doses(first.product)
        highest = max(dose.dose for dose in given)
        if highest > primary:
            return VaccinationState.booster_complete
        if highest == primary:
            return VaccinationState.primary_complete
    if any(dose.dose == 0 for dose in doses):
        return VaccinationState.not_suitable
    return VaccinationState.primary_incomplete if given else VaccinationState.no_record


def elapsed(hours: float) -> str:
    """Hours and minutes, as people read a NAT's age at the door."""
    minutes = max(0, int(hours * 60))
    return _("{h} h {m} min").format(h=minutes // 60, m=minutes % 60)


# The hours within which a negative NAT must have been sampled, per policy.
NAT_HOURS = {
    EntryPolicy.green_nat48: 48,
    EntryPolicy.green_nat72: 72,
    EntryPolicy.green_nat72_or_sampled24: 72,
}


def entry_decision(status: PersonStatus, policy: EntryPolicy | str, at: datetime) -> EntryDecision:
    """May this person enter a venue with this policy at `at`, and why (not)."""
    policy = EntryPolicy(policy)
    if status.colour is not Colour.green:
        return EntryDecision(
            False,
            _("Your code is {colour}; this venue admits green codes only.").format(
                colour=_(COLOUR_LABELS[status.colour]).lower()
            ),
        )
    if policy is EntryPolicy.green:
        return EntryDecision(True, _("Green code: welcome."))
    needed = NAT_HOURS[policy]
    nat = status.nat
    if policy is EntryPolicy.green_nat72_or_sampled24 and nat is not None:
        hours = nat.hours_before(at)
        if nat.result is NatResult.pending and 0 <= hours <= 24:
            return EntryDecision(
                True,
                _(
                    "Sampled {elapsed} ago (result pending); this venue accepts a sample within "
                    "24 hours."
                ).format(elapsed=elapsed(hours)),
            )
    if nat is None:
        return EntryDecision(
            False,
            _(
                "No NAT record; this venue needs a negative NAT sampled within {needed} hours."
            ).format(needed=needed),
        )
    hours = nat.hours_before(at)
    if nat.result is not NatResult.negative:
        return EntryDecision(
            False,
            _(
                "The latest NAT has no negative result; this venue needs a negative NAT "
                "sampled within {needed} hours."
            ).format(needed=needed),
        )
    if hours > needed:
        return EntryDecision(
            False,
            _("NAT sampled {elapsed} ago; this venue needs one within {needed} hours.").format(
                elapsed=elapsed(hours), needed=needed
            ),
        )
    return EntryDecision(
        True,
        _("Negative NAT sampled {elapsed} ago (within {needed} hours).").format(
            elapsed=elapsed(hours), needed=needed
        ),
    )
