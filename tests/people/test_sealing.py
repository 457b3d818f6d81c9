"""Sealed identity: only the authority's private key opens it, bound to its person."""

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from placecode.people.sealing import Identity, Sealer, Unsealer

ALICE = Identity(name="张三丰", doc_number="310107198001011234", phone="+8613812345678")


@pytest.fixture
def keys() -> tuple[Sealer, Unsealer]:
    private = X25519PrivateKey.generate()
    return Sealer(private.public_key()), Unsealer(private)


def test_a_sealed_identity_opens_with_the_private_key(keys: tuple[Sealer, Unsealer]) -> None:
    sealer, unsealer = keys
    envelope = sealer.seal(ALICE, b"pk-alice")
    assert b"310107198001011234" not in envelope
    assert "张三丰".encode() not in envelope
    assert unsealer.unseal(envelope, b"pk-alice") == ALICE


def test_an_envelope_cannot_be_moved_to_another_person(keys: tuple[Sealer, Unsealer]) -> None:
    sealer, unsealer = keys
    envelope = sealer.seal(ALICE, b"pk-alice")
    with pytest.raises(InvalidTag):
        unsealer.unseal(envelope, b"pk-bob")


def test_a_tampered_envelope_is_refused(keys: tuple[Sealer, Unsealer]) -> None:
    sealer, unsealer = keys
    envelope = bytearray(sealer.seal(ALICE, b"pk-alice"))
    envelope[-1] ^= 1
    with pytest.raises(InvalidTag):
        unsealer.unseal(bytes(envelope), b"pk-alice")


def test_a_batch_shares_one_key_agreement_and_every_record_opens(
    keys: tuple[Sealer, Unsealer],
) -> None:
    sealer, unsealer = keys
    people = [
        (Identity(name=f"人{i}", doc_number=f"{i:018d}", phone=None), f"pk-{i}".encode())
        for i in range(200)
    ]
    envelopes = sealer.seal_batch(people)
    assert len({envelope[1:33] for envelope in envelopes}) == 1  # one ephemeral key
    assert len({envelope[33:45] for envelope in envelopes}) == 200  # a nonce each
    for (identity, aad), envelope in zip(people, envelopes, strict=True):
        assert unsealer.unseal(envelope, aad) == identity


def test_another_key_opens_nothing(keys: tuple[Sealer, Unsealer]) -> None:
    sealer, _unsealer = keys
    stranger = Unsealer(X25519PrivateKey.generate())
    with pytest.raises(InvalidTag):
        stranger.unseal(sealer.seal(ALICE, b"pk-alice"), b"pk-alice")


@given(st.lists(st.tuples(st.text(), st.text(), st.text()), max_size=8))
def test_many_identities_become_the_bytes_each_would(values: list[tuple[str, str, str]]) -> None:
    names, numbers, phones = ([v[i] for v in values] for i in range(3))
    assert Identity.many_to_bytes(names, numbers, phones) == [
        Identity(name=name, doc_number=number, phone=phone).to_bytes()
        for name, number, phone in values
    ]


def test_identities_made_bytes_in_bulk_seal_and_open_as_the_same_people(
    keys: tuple[Sealer, Unsealer],
) -> None:
    sealer, unsealer = keys
    names, numbers, phones = ["张三丰", 'Anna "A" Smith'], ["310107198001011234", "E1"], ["+86", ""]
    aads = [b"a", b"b"]
    plaintexts = Identity.many_to_bytes(names, numbers, phones)
    envelopes = sealer.seal_plaintexts(zip(plaintexts, aads, strict=True))
    opened = [unsealer.unseal(envelope, aad) for envelope, aad in zip(envelopes, aads, strict=True)]
    assert opened == [Identity(n, d, p) for n, d, p in zip(names, numbers, phones, strict=True)]
