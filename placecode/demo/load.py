"""Live load on a running PlaceCode: real HTTP check-ins with person tokens, at a target rate
that follows the daily profile (or as fast as the server answers), with the achieved rate,
the answers and the latency percentiles.

The visitors are the demo district's residents with identity cards (the same documents, so
a scan is usually a returning resident's); their person tokens are signed by the demo
issuers (随申办, WeChat, Alipay) as those apps' front ends would; the venue codes are the
venues' current signed codes, the popular venues more often.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from placecode.clock import clock
from placecode.config import Settings
from placecode.demo.population import POPULARITY, document_of, name_of, phone_of
from placecode.demo.profile import SLOT_SECONDS, day_profile
from placecode.people import identity
from placecode.people.models import Person
from placecode.signing import Keyring
from placecode.venues.codes import CodeBook
from placecode.venues.models import Venue, VenueStatus

ISSUERS = ("suishenban", "wechat", "alipay")
ISSUER_SHARES = (0.5, 0.28, 0.22)  # the phone channels' shares of the demo's scans
CHECK_INS = "/api/v1/checkins"


@dataclass(frozen=True)
class Visitors:
    """Person tokens and venue codes to scan with."""

    tokens: list[str]
    codes: list[str]


def prepare_visitors(
    *,
    session: Session,
    settings: Settings,
    people: int,
    venues: int,
    seed: int,
    signer: Callable[[str], object],
    valid_for: timedelta,
) -> Visitors:
    """`people` demo residents with tokens from the demo issuers (`signer` gives an issuer's
    private key) and the codes of `venues` active venues, drawn by popularity."""
    rng = np.random.default_rng(seed)
    rows = session.execute(
        select(Venue.id, Venue.category_code).where(Venue.status == VenueStatus.active.value)
    ).all()
    if not rows:
        raise LookupError("The database has no active venues: build a district first.")
    weights = np.array([POPULARITY.get(category, 1.0) for _id, category in rows])
    chosen = rng.choice(
        len(rows), size=min(venues, len(rows)), replace=False, p=weights / weights.sum()
    )
    book = CodeBook(settings, Keyring(settings))
    ids = [rows[i][0] for i in chosen.tolist()]
    codes = [
        book.issue(session=session, venue=venue)
        for venue in session.scalars(select(Venue).where(Venue.id.in_(ids)))
    ]
    known = session.scalar(select(func.count()).select_from(Person)) or 0
    residents = rng.choice(max(known, people), size=people, replace=False)
    issuers = rng.choice(len(ISSUERS), size=people, p=ISSUER_SHARES)
    # Tokens outlive the run on the server's clock and on the wall clock alike.
    expires = max(clock.now(), datetime.now(clock.now().tzinfo)) + valid_for
    keys = {name: signer(name) for name in ISSUERS}
    tokens = []
    for index, issuer in zip(residents.tolist(), issuers.tolist(), strict=True):
        doc_type, number = document_of(index, False)
        tokens.append(
            identity.external_token(
                keys[ISSUERS[issuer]],  # type: ignore[arg-type]
                issuer=ISSUERS[issuer],
                doc_type=doc_type,
                doc_number=number,
                name=name_of(index, False),
                phone=phone_of(index),
                expires=expires,
            )
        )
    return Visitors(tokens=tokens, codes=codes)


@dataclass
class LoadReport:
    seconds: float = 0.0
    answers: Counter[str] = field(default_factory=Counter)  # HTTP status, or the failure
    latencies: list[float] = field(default_factory=list)  # seconds, answered requests
    late: int = 0  # requests sent behind their schedule (the client could not keep up)

    @property
    def sent(self) -> int:
        return sum(self.answers.values())

    @property
    def errors(self) -> int:
        return sum(n for answer, n in self.answers.items() if answer not in ("200", "201"))

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        """Latency in milliseconds."""
        if not self.latencies:
            return 0.0
        return float(np.percentile(np.array(self.latencies), share)) * 1000


def profile_factor(moment: datetime, zone: object) -> float:
    """How busy this half hour is against the day's average (1.0 = average)."""
    local = moment.astimezone(zone)  # type: ignore[arg-type]
    slot = (local.hour * 3600 + local.minute * 60 + local.second) // SLOT_SECONDS
    return float(day_profile(local.date())[slot] * len(day_profile(local.date())))


async def run_load(
    *,
    url: str,
    visitors: Visitors,
    rate: float,
    duration: float,
    connections: int,
    zone: object,
    speedup: float = 1.0,
    seed: int = 0,
    tick: Callable[[float], None] | None = None,
) -> LoadReport:
    """Check in for `duration` seconds. `rate` is the day's average rate in scans a second,
    scaled by the daily profile at the (shifted) time of day, which runs `speedup` times
    faster than real time; 0 sends as fast as `connections` connections are answered.
    Latency is measured from when a request was due, so a slow server cannot hide behind a
    waiting client."""
    rng = np.random.default_rng(seed)
    report = LoadReport()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    started = time.perf_counter()
    deadline = started + duration
    simulated_start = clock.now()

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10.0) as client:

        async def check_in(due: float) -> None:
            token = visitors.tokens[int(rng.integers(len(visitors.tokens)))]
            code = visitors.codes[int(rng.integers(len(visitors.codes)))]
            try:
                answer = await client.post(
                    CHECK_INS,
                    json={"venue_code": code},
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.HTTPError as exc:
                report.answers[type(exc).__name__] += 1
                return
            report.answers[str(answer.status_code)] += 1
            report.latencies.append(time.perf_counter() - due)

        if rate <= 0:

            async def worker() -> None:
                while time.perf_counter() < deadline:
                    await check_in(time.perf_counter())

            await asyncio.gather(*(worker() for _ in range(connections)))
        else:
            pending: set[asyncio.Task[None]] = set()
            slots = asyncio.Semaphore(connections)
            due = started

            async def paced(due: float) -> None:
                async with slots:
                    await check_in(due)

            while True:
                elapsed = due - started
                moment = simulated_start + timedelta(seconds=elapsed * speedup)
                due += rng.exponential(1.0 / (rate * profile_factor(moment, zone)))
                if due >= deadline:
                    break
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                elif wait < -0.1:
                    report.late += 1
                task = asyncio.create_task(paced(due))
                pending.add(task)
                task.add_done_callback(pending.discard)
                if tick is not None:
                    tick(time.perf_counter() - started)
            await asyncio.gather(*pending)
    report.seconds = time.perf_counter() - started
    return report
