"""Writing visits in a batch: repeats folded per (person, venue), hourly counts added."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from placecode.checkins.models import CheckIn, VenueHourlyCount
from placecode.checkins.store import HOUR, Stored, Visit, store_visits
from placecode.clock import clock
from placecode.config import Settings
from placecode.errors import PlaceCodeError
from placecode.people.documents import DocType, Document
from placecode.people.models import Person
from placecode.people.sealing import load_sealer
from placecode.people.service import PersonDetails, person_key_of
from tests.conftest import make_venue

WINDOW = 300


def visitor(settings: Settings, number: int) -> tuple[str, PersonDetails]:
    document = Document(DocType.passport, f"S{number:08d}")
    return person_key_of(settings, document), PersonDetails(document, f"Store {number}", None)


def store(
    session: Session, settings: Settings, visits: list[Visit]
) -> list[Stored | PlaceCodeError]:
    return store_visits(
        session=session,
        settings=settings,
        sealer=load_sealer(settings),
        visits=visits,
        window_seconds=WINDOW,
    )


def test_repeats_are_folded_per_person_and_venue_and_hours_counted(
    session: Session, settings: Settings, authority: object
) -> None:
    market = make_venue(session, "店甲", "changfengxincun", "shop")
    shop = make_venue(session, "店乙", "changfengxincun", "shop")
    (p_key, p_details), (q_key, q_details) = visitor(settings, 1), visitor(settings, 2)
    hour = int(clock.now().timestamp()) // HOUR * HOUR - 2 * HOUR
    start = hour + HOUR - 100  # the batch below runs into the next hour

    def at(key: str, venue: str, second: int, details: PersonDetails | None = None) -> Visit:
        return Visit(key, venue, start + second, "wechat", "green", True, details)

    (first,) = store(session, settings, [at(p_key, market.id, 0, p_details)])
    assert isinstance(first, Stored) and not first.duplicate
    results = store(
        session,
        settings,
        [
            at(p_key, market.id, 60),  # repeats the stored one
            at(p_key, shop.id, 60),  # the same person elsewhere: a visit of its own
            at(q_key, market.id, 70, q_details),  # someone new …
            at(q_key, market.id, 80),  # … repeating themselves in the same batch
            at(p_key, market.id, WINDOW + 1),  # past the window: new, in the next hour
        ],
    )
    assert all(isinstance(item, Stored) for item in results), results
    stored = [item for item in results if isinstance(item, Stored)]
    assert [item.duplicate for item in stored] == [True, False, False, True, False]
    assert stored[0].check_in_id == first.check_in_id
    assert stored[3].check_in_id == stored[2].check_in_id
    assert len({first.check_in_id, stored[1].check_in_id, stored[2].check_in_id}) == 3
    assert session.scalars(
        select(CheckIn.venue_id).where(CheckIn.scanned_at >= start).order_by(CheckIn.id)
    ).all() == [market.id, shop.id, market.id, market.id]
    counts = session.execute(
        select(VenueHourlyCount.venue_id, VenueHourlyCount.hour, VenueHourlyCount.count).where(
            VenueHourlyCount.venue_id.in_([market.id, shop.id])
        )
    ).all()
    assert sorted(counts) == sorted(
        [(market.id, hour, 2), (market.id, hour + HOUR, 1), (shop.id, hour, 1)]
    )


def test_newcomers_come_from_their_visits_channel_unless_the_source_is_given(
    session: Session, settings: Settings, authority: object
) -> None:
    """The writer stores a batch's scans in one go whatever their channels (one lookup of
    people, one repeat check, one insert), and each newcomer is registered as coming from
    the channel they scanned through; an import names its own source."""
    venue = make_venue(session, "店丙", "changfengxincun", "shop")
    at = int(clock.now().timestamp()) - HOUR
    visitors = [visitor(settings, n) for n in (11, 12, 13)]
    visits = [
        Visit(key, venue.id, at, channel, "green", True, details)
        for (key, details), channel in zip(visitors[:2], ("alipay", "suishenban"), strict=True)
    ]
    assert all(isinstance(item, Stored) for item in store(session, settings, visits))
    key, details = visitors[2]
    imported = store_visits(
        session=session,
        settings=settings,
        sealer=load_sealer(settings),
        visits=[Visit(key, venue.id, at, "paper", "green", True, details)],
        window_seconds=0,
        source="import",
    )
    assert all(isinstance(item, Stored) for item in imported)
    sources = dict(
        session.execute(
            select(Person.person_key, Person.source).where(
                Person.person_key.in_([key for key, _details in visitors])
            )
        ).all()
    )
    assert sources == {
        visitors[0][0]: "alipay",
        visitors[1][0]: "suishenban",
        visitors[2][0]: "import",
    }
