"""Signed venue codes: round trip, every refusal, key rotation and retirement, caching."""

import base64
import json
import time
from collections.abc import Callable

import jwt
import pytest
from sqlalchemy.orm import Session

from placecode import signing
from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.config import Settings
from placecode.signing import Keyring
from placecode.venues import service
from placecode.venues.codes import CodeBook, CodeRefused
from placecode.venues.models import Venue

ADMIN = Principal(
    user_id=0, username="admin", display_name="", role=Role.district_admin, scope=None, via="cli"
)


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def book(settings: Settings) -> CodeBook:
    return CodeBook(settings, Keyring(settings))


def refusal(book: CodeBook, session: Session, token: str) -> tuple[str, int]:
    with pytest.raises(CodeRefused) as refused:
        book.verify(session=session, token=token)
    return refused.value.code, refused.value.status


def test_a_code_names_its_venue(book: CodeBook, session: Session, zhennan_market: Venue) -> None:
    token = book.issue(session=session, venue=zhennan_market)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": header["kid"]}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims == {"t": "venue", "v": zhennan_market.id, "n": 1}
    venue = book.verify(session=session, token=token)
    assert (venue.id, venue.name, venue.entry_policy) == (
        zhennan_market.id,
        "真南农副产品综合市场",
        "green_nat48",
    )
    assert book.issue(session=session, venue=zhennan_market) == token  # Ed25519 is deterministic
    assert book.url(token) == f"https://placecode.test/s/{token}"


def test_a_tampered_code_is_refused(
    book: CodeBook, session: Session, zhennan_market: Venue
) -> None:
    header, payload, signature = book.issue(session=session, venue=zhennan_market).split(".")
    other = b64({"t": "venue", "v": "aaaaaaaaaa", "n": 1})
    assert refusal(book, session, f"{header}.{other}.{signature}") == ("bad_signature", 400)
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    assert refusal(book, session, f"{header}.{payload}.{flipped}") == ("bad_signature", 400)


def test_only_eddsa_is_accepted(book: CodeBook, session: Session, zhennan_market: Venue) -> None:
    token = book.issue(session=session, venue=zhennan_market)
    kid = jwt.get_unverified_header(token)["kid"]
    payload = b64({"t": "venue", "v": zhennan_market.id, "n": 1})
    unsigned = f"{b64({'alg': 'none', 'kid': kid})}.{payload}."
    assert refusal(book, session, unsigned) == ("unsupported_alg", 400)
    public = signing.list_signing_keys(session=session)[0].public_key
    forged = jwt.encode(
        {"t": "venue", "v": zhennan_market.id, "n": 1},
        public,
        algorithm="HS256",
        headers={"kid": kid},
    )
    assert refusal(book, session, forged) == ("unsupported_alg", 400)


def test_an_unknown_key_is_refused(book: CodeBook, session: Session, zhennan_market: Venue) -> None:
    token = book.issue(session=session, venue=zhennan_market)
    _header, payload, signature = token.split(".")
    other_kid = b64({"alg": "EdDSA", "kid": "ffffffff"})
    assert refusal(book, session, f"{other_kid}.{payload}.{signature}") == ("unknown_key", 400)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a.b", "!!!.???.***", "e30.e30.e30"])
def test_garbage_is_not_a_code(book: CodeBook, session: Session, token: str) -> None:
    code, status = refusal(book, session, token)
    assert status == 400
    assert code in ("malformed_code", "unsupported_alg")


def test_a_signed_token_of_another_type_is_refused(
    book: CodeBook, session: Session, settings: Settings, zhennan_market: Venue
) -> None:
    book.issue(session=session, venue=zhennan_market)
    key = signing.current_signing_key(session=session)
    assert key is not None
    private = book.keyring._private_key(key.kid)
    person = jwt.encode(
        {"t": "person", "v": zhennan_market.id, "n": 1},
        private,
        algorithm="EdDSA",
        headers={"kid": key.kid},
    )
    assert refusal(book, session, person) == ("malformed_code", 400)


def test_an_old_code_stops_when_a_new_one_is_issued(
    book: CodeBook, session: Session, zhennan_market: Venue
) -> None:
    old = book.issue(session=session, venue=zhennan_market)
    book.verify(session=session, token=old)  # cached now
    service.reissue_code(session=session, principal=ADMIN, venue_id=zhennan_market.id)
    code, status = refusal(book, session, old)
    assert (code, status) == ("old_code", 410)
    new = book.issue(session=session, venue=zhennan_market)
    assert new != old
    assert book.verify(session=session, token=new).code_version == 2


def test_suspended_and_revoked_venues_are_refused(
    book: CodeBook, session: Session, zhennan_market: Venue
) -> None:
    token = book.issue(session=session, venue=zhennan_market)
    book.verify(session=session, token=token)
    service.change_status(
        session=session, principal=ADMIN, venue_id=zhennan_market.id, action="suspend"
    )
    assert refusal(book, session, token) == ("venue_suspended", 409)
    service.change_status(
        session=session, principal=ADMIN, venue_id=zhennan_market.id, action="resume"
    )
    assert book.verify(session=session, token=token).status == "active"
    service.change_status(
        session=session, principal=ADMIN, venue_id=zhennan_market.id, action="revoke"
    )
    code, status = refusal(book, session, token)
    assert (code, status) == ("venue_revoked", 410)


def test_rotation_keeps_old_codes_until_their_key_is_retired(
    book: CodeBook, session: Session, settings: Settings, zhennan_market: Venue
) -> None:
    old = book.issue(session=session, venue=zhennan_market)
    old_kid = jwt.get_unverified_header(old)["kid"]
    new_key = signing.create_signing_key(session=session, settings=settings)
    new = book.issue(session=session, venue=zhennan_market)
    assert jwt.get_unverified_header(new)["kid"] == new_key.kid != old_kid
    assert book.verify(session=session, token=old).id == zhennan_market.id
    assert {key["kid"] for key in book.jwks(session=session)["keys"]} >= {old_kid, new_key.kid}
    with pytest.raises(Exception, match="rotate"):
        signing.retire_signing_key(session=session, kid=new_key.kid)
    signing.retire_signing_key(session=session, kid=old_kid)
    assert refusal(book, session, old) == ("retired_key", 400)
    assert book.verify(session=session, token=new).id == zhennan_market.id
    assert old_kid not in {key["kid"] for key in book.jwks(session=session)["keys"]}


def test_another_worker_sees_a_change_within_its_poll_interval(
    make_settings: Callable[..., Settings], session: Session, zhennan_market: Venue
) -> None:
    slow = make_settings(cache_poll_seconds=0.3)
    worker = CodeBook(slow, Keyring(slow))
    token = worker.issue(session=session, venue=zhennan_market)
    worker.verify(session=session, token=token)
    service.change_status(
        session=session, principal=ADMIN, venue_id=zhennan_market.id, action="suspend"
    )
    time.sleep(0.35)
    with pytest.raises(CodeRefused, match="suspended"):
        worker.verify(session=session, token=token)


def test_the_jwks_verifies_a_code_offline(
    book: CodeBook, session: Session, zhennan_market: Venue
) -> None:
    token = book.issue(session=session, venue=zhennan_market)
    jwk = book.jwks(session=session)["keys"][0]
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")
    public = jwt.PyJWK(jwk).key
    assert jwt.decode(token, public, algorithms=["EdDSA"])["v"] == zhennan_market.id


def test_a_code_for_an_unregistered_venue_is_refused(
    book: CodeBook, session: Session, zhennan_market: Venue
) -> None:
    book.issue(session=session, venue=zhennan_market)
    key = signing.current_signing_key(session=session)
    assert key is not None
    ghost = jwt.encode(
        {"t": "venue", "v": "zzzzzzzzzz", "n": 1},
        book.keyring._private_key(key.kid),
        algorithm="EdDSA",
        headers={"kid": key.kid, "typ": None},
    )
    assert refusal(book, session, ghost) == ("unknown_venue", 404)
