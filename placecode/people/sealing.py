"""Sealed personal data: readable only with the health authority's private key.

Each record is sealed with X25519 key agreement and ChaCha20-Poly1305: an ephemeral key
pair, a shared secret with the authority's public key, HKDF to a content key, and an AEAD
whose associated data is the person's pseudonym, so a sealed record cannot be moved to
another person. A bulk load agrees on one ephemeral key per batch and seals every record
with its own nonce: a million people seal in seconds rather than minutes.

The envelope is: version (1 byte) | ephemeral public key (32) | nonce (12) | ciphertext.
The server holds only the public key; `Unsealer` is used by re-identification alone.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from placecode.config import Settings
from placecode.errors import InvalidInput
from placecode.i18n import _

VERSION = 1
INFO = b"placecode sealed record v1"
AUTHORITY_DIR = "authority"
PUBLIC_FILE, PRIVATE_FILE = "public.pem", "private.pem"
NONCE = 12
# One encoder for every record (json.dumps with options builds a new one per call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')  # what _ENCODER escapes (it keeps non-ASCII)


@dataclass(frozen=True)
class Identity:
    """What is sealed for one person."""

    name: str | None
    doc_number: str | None
    phone: str | None

    def to_bytes(self) -> bytes:
        fields = {"name": self.name, "doc": self.doc_number, "phone": self.phone}
        return _ENCODER.encode(fields).encode()

    @staticmethod
    def many_to_bytes(names: list[str], doc_numbers: list[str], phones: list[str]) -> list[bytes]:
        """`to_bytes` of many identities at once, the same bytes: written out directly when
        no value needs JSON's escapes (the common case: a bulk load's million people in a
        second rather than several)."""
        if _NEEDS_ESCAPE.search("".join(names) + "".join(doc_numbers) + "".join(phones)):
            return [
                Identity(name, doc, phone).to_bytes()
                for name, doc, phone in zip(names, doc_numbers, phones, strict=True)
            ]
        return [
            f'{{"name":"{name}","doc":"{doc}","phone":"{phone}"}}'.encode()
            for name, doc, phone in zip(names, doc_numbers, phones, strict=True)
        ]

    @classmethod
    def from_bytes(cls, data: bytes) -> Identity:
        values = json.loads(data)
        return cls(name=values["name"], doc_number=values["doc"], phone=values["phone"])


def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _content_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=INFO).derive(
        shared
    )


class Sealer:
    """Seals to the authority's public key; one instance may seal many records."""

    def __init__(self, public_key: X25519PublicKey) -> None:
        self.public_key = public_key
        self._recipient = _raw(public_key)

    def seal(self, identity: Identity, aad: bytes) -> bytes:
        """One record, its own key agreement (about 100 µs)."""
        return self.seal_batch([(identity, aad)])[0]

    def seal_batch(self, records: Iterable[tuple[Identity, bytes]]) -> list[bytes]:
        """Many records, one key agreement for them all (microseconds each)."""
        return self.seal_plaintexts((identity.to_bytes(), aad) for identity, aad in records)

    def seal_plaintexts(self, records: Iterable[tuple[bytes, bytes]]) -> list[bytes]:
        """`seal_batch` of identities already made bytes (`Identity.many_to_bytes`)."""
        ephemeral = X25519PrivateKey.generate()
        ephemeral_raw = _raw(ephemeral.public_key())
        aead = ChaCha20Poly1305(
            _content_key(ephemeral.exchange(self.public_key), ephemeral_raw, self._recipient)
        )
        head = bytes([VERSION]) + ephemeral_raw
        records = list(records)
        nonces = os.urandom(NONCE * len(records))  # one system call for the batch
        sealed = []
        for start, (plaintext, aad) in zip(range(0, len(nonces), NONCE), records, strict=True):
            nonce = nonces[start : start + NONCE]
            sealed.append(head + nonce + aead.encrypt(nonce, plaintext, aad))
        return sealed


class Unsealer:
    """Opens sealed records; only the re-identification path ever makes one."""

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self.private_key = private_key
        self._recipient = _raw(private_key.public_key())
        self._keys: dict[bytes, ChaCha20Poly1305] = {}

    def unseal(self, envelope: bytes, aad: bytes) -> Identity:
        if len(envelope) < 1 + 32 + 12 + 16 or envelope[0] != VERSION:
            raise InvalidInput(_("This sealed record is damaged."), code="sealed_damaged")
        ephemeral_raw, nonce, body = envelope[1:33], envelope[33:45], envelope[45:]
        aead = self._keys.get(ephemeral_raw)
        if aead is None:
            shared = self.private_key.exchange(X25519PublicKey.from_public_bytes(ephemeral_raw))
            aead = self._keys[ephemeral_raw] = ChaCha20Poly1305(
                _content_key(shared, ephemeral_raw, self._recipient)
            )
        return Identity.from_bytes(aead.decrypt(nonce, body, aad))


def authority_paths(settings: Settings) -> tuple[Path, Path]:
    public = settings.authority_public_key or settings.key_dir / AUTHORITY_DIR / PUBLIC_FILE
    private = settings.authority_private_key or settings.key_dir / AUTHORITY_DIR / PRIVATE_FILE
    return public, private


def init_authority(settings: Settings) -> tuple[Path, Path]:
    """Make the health authority's key pair for the demo (kept if it exists).

    In production the authority makes its own pair and gives PlaceCode only the public
    key; the private key stays with the CDC's re-identification workstation.
    """
    public_path, private_path = authority_paths(settings)
    if public_path.exists():
        return public_path, private_path
    private = X25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_path.touch(mode=0o600)
    private_path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    public_path.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return public_path, private_path


def load_sealer(settings: Settings) -> Sealer:
    public_path, _private = authority_paths(settings)
    if not public_path.exists():
        raise InvalidInput(
            _(
                "The health authority's public key is missing ({path}); run `placecode init` or "
                "set PLACECODE_AUTHORITY_PUBLIC_KEY."
            ).format(path=public_path),
            code="authority_key_missing",
        )
    key = serialization.load_pem_public_key(public_path.read_bytes())
    if not isinstance(key, X25519PublicKey):
        raise InvalidInput(
            _("{path} is not an X25519 public key.").format(path=public_path),
            code="authority_key_missing",
        )
    return Sealer(key)


def load_unsealer(settings: Settings) -> Unsealer:
    """The authority's private key: loaded only to re-identify, refused when not configured."""
    _public, private_path = authority_paths(settings)
    if not private_path.exists():
        raise InvalidInput(
            _(
                "Re-identification is not possible here: the health authority's private key "
                "is not configured (PLACECODE_AUTHORITY_PRIVATE_KEY)."
            ),
            code="authority_private_key_missing",
        )
    key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    if not isinstance(key, X25519PrivateKey):
        raise InvalidInput(
            _("{path} is not an X25519 private key.").format(path=private_path),
            code="authority_private_key_missing",
        )
    return Unsealer(key)
