"""Real-name registration: one person per document, sealed, and no plain PII at rest."""

import subprocess
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import make_url, select
from sqlalchemy.orm import Session

from placecode import db
from placecode.config import Settings
from placecode.people import service
from placecode.people.models import Person
from placecode.people.sealing import load_sealer, load_unsealer
from tests.conftest import BACKEND, Databases, count, prepare

PEOPLE = [
    ("id_card", "11010519491231002X", "王秀英", "13812345678"),
    ("passport", "E98765432", "Maria Rossi", "+39 312 345 6789"),
    ("hk_macau_permit", "H87654321", "陈大文", "+852 9123 4567"),
]


def details(doc_type: str, number: str, name: str, phone: str) -> service.PersonDetails:
    return service.read_details(doc_type=doc_type, doc_number=number, name=name, phone=phone)


def test_the_same_document_is_the_same_person(session: Session, settings: Settings) -> None:
    sealer = load_sealer(settings)
    first = service.register_person(
        session=session,
        settings=settings,
        sealer=sealer,
        details=details(*PEOPLE[0]),
        source="self",
    )
    again = service.register_person(
        session=session,
        settings=settings,
        sealer=sealer,
        details=details("id_card", "11010519491231002x", "王秀英", "+86 138 1234 5678"),
        source="paper",
    )
    assert first.id == again.id
    assert len(first.person_key) == 32
    assert (first.name_masked, first.doc_masked, first.phone_masked) == (
        "王*英",
        "1101**********002X",
        "138****5678",
    )


def test_the_pseudonym_depends_on_the_deployments_pepper(
    settings: Settings, make_settings: Callable[..., Settings]
) -> None:
    document = details(*PEOPLE[0]).document
    other = make_settings(pepper="another-pepper-" + "z" * 32)
    assert service.person_key_of(settings, document) != service.person_key_of(other, document)
    assert service.person_key_of(settings, document) == service.person_key_of(settings, document)


def test_many_pseudonyms_at_once_are_each_ones_own(settings: Settings) -> None:
    documents = [details(*person).document for person in PEOPLE]
    keys = service.PersonKeys(settings)
    assert keys.of_many([d.doc_type.value for d in documents], [d.number for d in documents]) == [
        service.person_key_of(settings, d) for d in documents
    ]


def test_someone_known_only_by_number_is_completed_by_a_name(
    session: Session, settings: Settings
) -> None:
    sealer = load_sealer(settings)
    nameless = service.read_details(doc_type="id_card", doc_number=PEOPLE[0][1])
    person = service.register_person(
        session=session, settings=settings, sealer=sealer, details=nameless, source="sentinel"
    )
    assert person.name_masked == "—"
    service.register_person(
        session=session,
        settings=settings,
        sealer=sealer,
        details=details(*PEOPLE[0]),
        source="self",
    )
    assert person.name_masked == "王*英"  # the Person the session holds reads the new name
    assert (
        load_unsealer(settings).unseal(person.sealed, person.person_key.encode()).name == "王秀英"
    )


def test_a_batch_registers_many_with_one_key_agreement(
    session: Session, settings: Settings
) -> None:
    many = [
        service.read_details(doc_type="passport", doc_number=f"P{i:07d}", name=f"Visitor {i}")
        for i in range(300)
    ]
    keys = [service.person_key_of(settings, d.document) for d in many]
    ids = service.ensure_people(
        session=session,
        settings=settings,
        sealer=load_sealer(settings),
        people=list(zip(keys, many, strict=True)),
        source="import",
    )
    assert len(ids) == 300
    sealed = session.scalars(select(Person.sealed).where(Person.person_key.in_(keys))).all()
    assert len({envelope[1:33] for envelope in sealed}) == 1
    assert count(session, Person) >= 300


def plain_pii() -> list[bytes]:
    texts = []
    for _doc_type, number, name, phone in PEOPLE:
        normalised = service.read_details(doc_type=_doc_type, doc_number=number, phone=phone)
        texts += [number.upper(), name, phone, normalised.phone or "", phone.replace(" ", "")]
    return [text.encode() for text in texts if text] + [t.encode("utf-16-le") for t in ("王秀英",)]


def test_a_dump_of_the_database_holds_no_plain_pii(
    databases: Databases, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    url = databases.new_url()
    settings = make_settings(database_url=url)
    database = db.Database.connect(settings)
    prepare(database.engine)
    with database.session() as session:
        sealer = load_sealer(settings)
        for person in PEOPLE:
            service.register_person(
                session=session,
                settings=settings,
                sealer=sealer,
                details=details(*person),
                source="self",
            )
        service.start_sign_in(
            session=session, settings=settings, sealer=sealer, details=details(*PEOPLE[0])
        )
    database.dispose()
    if BACKEND == "sqlite":
        path = Path(make_url(url).database or "")
        dump = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    else:
        parsed = make_url(url)
        dump = subprocess.run(
            [
                "/usr/lib/postgresql/15/bin/pg_dump",
                "-h",
                parsed.host or "127.0.0.1",
                "-p",
                str(parsed.port),
                "-U",
                parsed.username or "postgres",
                parsed.database or "",
            ],
            check=True,
            capture_output=True,
        ).stdout
    assert len(dump) > 10_000
    assert "王*英".encode() in dump  # the masked form is there, so the dump is readable
    for text in plain_pii():
        assert text not in dump, text
