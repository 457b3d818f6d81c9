"""The demo district's residents and their habits, as numpy arrays (a million people are
planned in a second): where they live, their usual market, their workplace, the shops they
go to, how active they are, and their documents, names and phones (made only when they are
written, sealed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from placecode.demo.district import SURNAMES, VenuePlan
from placecode.people.documents import ID_CHECK, ID_WEIGHTS, id_check_digit

RESIDENTS = 1_240_000
FOREIGN_SHARE = 0.01  # passports
ELDERLY_SHARE = 0.2
# Elderly people without a smartphone: checked in by a younger relative as their companion,
# or on paper at the door when alone.
ACCOMPANIED_SHARE = 0.3
WORKER_SHARE = 0.55
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华慧建国平红玉兰桂英志刚淑珍海燕文")
FOREIGN_NAMES = ["Anna", "David", "Maria", "John", "Yuki", "Kim", "Lucas", "Sofia", "Omar", "Ivan"]
FOREIGN_SURNAMES = ["Smith", "Müller", "Tanaka", "Park", "Rossi", "Dubois", "Silva", "Khan"]

MARKETS = ("wet_market", "large_supermarket")
WORKPLACES = ("office_building", "industrial_park", "school", "hospital", "government_office")
ERRANDS = ("shop", "restaurant", "convenience_store", "pharmacy", "express_point")
# How much more than an ordinary venue of its kind a venue draws visitors from afar.
POPULARITY = {
    "large_supermarket": 30.0,
    "mall": 40.0,
    "wet_market": 20.0,
    "transport_hub": 25.0,
    "hospital": 8.0,
    "restaurant": 2.0,
    "culture_venue": 4.0,
    "sports_venue": 3.0,
    "hotel": 2.0,
}


@dataclass
class Population:
    """Everyone, by index: arrays of the same length."""

    street: np.ndarray  # index into the street list
    foreign: np.ndarray  # bool: a passport instead of an identity card
    elderly: np.ndarray  # bool
    worker: np.ndarray  # bool
    activity: np.ndarray  # relative scans per day
    home: np.ndarray  # venue index of their residential compound
    market: np.ndarray  # venue index of their usual market
    work: np.ndarray  # venue index of their workplace (-1: none)
    errands: np.ndarray  # (n, 3) venue indexes of the shops they go to
    guardian: np.ndarray  # for an accompanied elder, their relative's index (-1: none)
    ward: np.ndarray  # for that relative, the elder's index (-1: none)

    def __len__(self) -> int:
        return len(self.street)


def _by_street(
    venues: list[VenuePlan], codes: list[str], kinds: tuple[str, ...]
) -> list[np.ndarray]:
    index = {code: position for position, code in enumerate(codes)}
    found: list[list[int]] = [[] for _ in codes]
    for position, venue in enumerate(venues):
        if venue.category_code in kinds:
            found[index[venue.street_code]].append(position)
    every = [position for group in found for position in group]
    return [np.array(group or every) for group in found]


def _pick(
    groups: list[np.ndarray], street: np.ndarray, rng: np.random.Generator, size: int = 1
) -> np.ndarray:
    """For each person, `size` venues from their street's group."""
    picked = np.empty((len(street), size), dtype=np.int64)
    for position, group in enumerate(groups):
        members = np.flatnonzero(street == position)
        picked[members] = group[rng.integers(len(group), size=(len(members), size))]
    return picked if size > 1 else picked[:, 0]


def plan_population(
    *,
    venues: list[VenuePlan],
    street_codes: list[str],
    street_shares: list[float],
    zhennan_index: int,
    size: int = RESIDENTS,
    seed: int = 2022,
) -> Population:
    """Residents spread over the streets by population, each with habits."""
    rng = np.random.default_rng(seed + 1)
    shares = np.asarray(street_shares) / np.sum(street_shares)
    street = rng.choice(len(street_codes), size=size, p=shares)
    roll = rng.random(size)
    elderly = roll < ELDERLY_SHARE
    worker = (roll >= ELDERLY_SHARE) & (roll < ELDERLY_SHARE + WORKER_SHARE)
    home = _pick(_by_street(venues, street_codes, ("residential",)), street, rng)
    market = _pick(_by_street(venues, street_codes, MARKETS), street, rng)
    # 真南 is the big market of its street: a fifth of its residents shop there.
    zhenru = street_codes.index(venues[zhennan_index].street_code)
    regulars = np.flatnonzero((street == zhenru) & (rng.random(size) < 1 / 5))
    market[regulars] = zhennan_index
    workplaces = np.array([i for i, v in enumerate(venues) if v.category_code in WORKPLACES])
    work = np.where(worker, workplaces[rng.integers(len(workplaces), size=size)], -1)
    errands = _pick(_by_street(venues, street_codes, ERRANDS), street, rng, size=3)
    foreign = rng.random(size) < FOREIGN_SHARE
    guardian, ward = _relatives(
        street, elderly & ~foreign & (rng.random(size) < ACCOMPANIED_SHARE), worker, rng
    )
    return Population(
        street=street,
        foreign=foreign,
        elderly=elderly,
        worker=worker,
        activity=rng.lognormal(0.0, 0.6, size=size),
        home=home,
        market=market,
        work=work,
        errands=errands,
        guardian=guardian,
        ward=ward,
    )


def _relatives(
    street: np.ndarray, accompanied: np.ndarray, worker: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A younger relative on the same street for each accompanied elder, one elder each."""
    guardian = np.full(len(street), -1)
    ward = np.full(len(street), -1)
    for position in range(int(street.max()) + 1):
        elders = np.flatnonzero(accompanied & (street == position))
        adults = rng.permutation(np.flatnonzero(worker & (street == position)))
        paired = min(len(elders), len(adults))
        guardian[elders[:paired]] = adults[:paired]
        ward[adults[:paired]] = elders[:paired]
    return guardian, ward


def _birth_and_sequence(index: np.ndarray) -> tuple[np.ndarray, ...]:
    return 1940 + index % 65, 1 + index // 65 % 12, 1 + index // 780 % 28, index // 21_840 % 1000


def document_of(index: int, foreign: bool) -> tuple[str, str]:
    """A valid document for resident `index` (the same index, the same document)."""
    if foreign:
        return "passport", f"E{index:08d}"
    year, month, day, sequence = (int(part) for part in _birth_and_sequence(np.array(index)))
    first17 = f"310107{year:04d}{month:02d}{day:02d}{sequence:03d}"
    return "id_card", first17 + id_check_digit(first17)


def _digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """The last `width` decimal digits of each number, most significant first, one row per
    place (divided by ten again and again: numpy divides by a constant far faster than by
    an array of powers)."""
    digits = np.empty((width, len(numbers)), dtype=np.uint8)
    rest = np.asarray(numbers, dtype=np.int64)
    for place in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        digits[place] = digit
    return digits


def documents_of(index: np.ndarray, foreign: np.ndarray) -> list[str]:
    """The numbers of `document_of` for many residents at once, made as arrays of digits
    (a passport for the foreign, an identity card for the others)."""
    year, month, day, sequence = _birth_and_sequence(index)
    prefix = 310107 * 10**11 + year * 10**7 + month * 10**5 + day * 10**3 + sequence
    digits = _digits(prefix, 17)
    total = np.zeros(len(index), dtype=np.int16)
    for weight, digit in zip(ID_WEIGHTS, digits, strict=True):
        total += weight * digit
    # Characters as UCS-4 code points, numpy's own str layout: no decoding row by row.
    cards = np.empty((len(index), 18), dtype=np.uint32)
    cards[:, :17] = digits.T + ord("0")
    cards[:, 17] = np.array([ord(c) for c in ID_CHECK], dtype=np.uint32)[total % 11]
    numbers = cards.view("U18")[:, 0]
    passports = np.full((int(foreign.sum()), 9), ord("E"), dtype=np.uint32)
    passports[:, 1:] = _digits(index[foreign], 8).T + ord("0")
    numbers[foreign] = passports.view("U9")[:, 0]
    return list(numbers.tolist())


def name_of(index: int, foreign: bool) -> str:
    if foreign:
        return f"{FOREIGN_NAMES[index % len(FOREIGN_NAMES)]} {FOREIGN_SURNAMES[index // 10 % 8]}"
    surname = SURNAMES[index % len(SURNAMES)]
    given = GIVEN[index // len(SURNAMES) % len(GIVEN)]
    second = GIVEN[index // 7 % len(GIVEN)] if index % 3 else ""
    return surname + given + second


def phone_of(index: int) -> str:
    return f"13{index % 10}{index:08d}"[-11:]
