"""What the scan shows about a person: colour with reasons, NAT, vaccination, and the
venue's entry decision.

The entry decision follows the venue's policy (green; green with a negative NAT sampled
within 48 or 72 hours; or within 72 hours or a sampling record within 24 hours) and always
says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

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


@dataclass(frozen=True)
class Nat:
    """The latest nucleic-acid test."""

    sampled_at: datetime
    result: NatResult

    def hours_before(self, at: datetime) -> float:
        return (at - self.sampled_at).total_seconds() / 3600


@dataclass(frozen=True)
class PersonStatus:
    colour: Colour
    reasons: tuple[str, ...] = ()
    until: datetime | None = None
    nat: Nat | None = None
    vaccination: VaccinationState = VaccinationState.no_record


@dataclass(frozen=True)
class EntryDecision:
    allowed: bool
    reason: str = field(default="")


GREEN = PersonStatus(colour=Colour.green)


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


class StatusBook:
    """The scan path's view of everyone's status.

    Until CDC events, NAT results and vaccinations are recorded (the health domain), every
    person is green with no NAT and no vaccination record.
    """

    def status(self, person_key: str, at: datetime) -> PersonStatus:
        return GREEN
