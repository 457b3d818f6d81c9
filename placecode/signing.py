"""The Ed25519 keys that sign what PlaceCode issues: venue codes, citizens' tokens and
personal codes. Compact JWS, EdDSA only.

Private keys live in files under the key directory, never in the database; the database
holds the public halves and which keys are retired, so every worker (and every scanning
app, through the JWKS) can verify. Ed25519 signatures are deterministic, so the same
payload signed with the same key always gives the same token.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from placecode import changes
from placecode.clock import clock
from placecode.config import Settings
from placecode.db import Base
from placecode.errors import InvalidInput
from placecode.i18n import _

ALGORITHM = "EdDSA"
COUNTER = "signing_keys"
KEY_DIR = "venue-codes"  # kept from the first release, when only venue codes were signed


class SigningKey(Base):
    """An Ed25519 key: only the public half is stored here."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(16), primary_key=True)
    public_key: Mapped[str] = mapped_column(Text)  # base64url of the raw 32 bytes
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


class SignatureRefused(Exception):
    """A token whose signature, algorithm or key is not acceptable; `code` says which."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_path(settings: Settings, kid: str) -> Path:
    return settings.key_dir / KEY_DIR / f"{kid}.pem"


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def create_signing_key(*, session: Session, settings: Settings) -> SigningKey:
    """Make a new signing key (file + public half in the database); new tokens use it."""
    private = Ed25519PrivateKey.generate()
    kid = secrets.token_hex(4)
    write_private_key(key_path(settings, kid), private)
    key = SigningKey(
        kid=kid, public_key=b64url(raw_public(private.public_key())), created_at=clock.now()
    )
    session.add(key)
    session.flush()
    changes.bump(session=session, name=COUNTER)
    return key


def list_signing_keys(*, session: Session) -> list[SigningKey]:
    return list(session.scalars(select(SigningKey).order_by(SigningKey.created_at)))


def current_signing_key(*, session: Session) -> SigningKey | None:
    """The newest key that is not retired: the one new tokens are signed with."""
    return session.scalars(
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid.desc())
    ).first()


def ensure_signing_key(*, session: Session, settings: Settings) -> SigningKey:
    return current_signing_key(session=session) or create_signing_key(
        session=session, settings=settings
    )


def retire_signing_key(*, session: Session, kid: str) -> SigningKey:
    """Stop a key from verifying: everything signed with it is refused from now on."""
    key = session.get(SigningKey, kid)
    if key is None:
        raise InvalidInput(
            _("There is no signing key {kid!r}.").format(kid=kid), code="unknown_key"
        )
    current = current_signing_key(session=session)
    if current is not None and current.kid == kid:
        raise InvalidInput(
            _("{kid} signs new codes; run `placecode keys rotate` before retiring it.").format(
                kid=kid
            ),
            code="key_in_use",
        )
    if key.retired_at is None:
        key.retired_at = clock.now()
        changes.bump(session=session, name=COUNTER)
    return key


class Keyring:
    """One process's view of the signing keys, refreshed when another worker changes them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.public: dict[str, Ed25519PublicKey] = {}
        self.retired: set[str] = set()
        self.current: str | None = None
        self._private: dict[str, Ed25519PrivateKey] = {}
        self._watch = changes.Watcher(COUNTER, settings.cache_poll_seconds)

    def sync(self, session: Session) -> bool:
        """Reload the keys if they changed anywhere; True when they did."""

        def reload() -> None:
            keys = list_signing_keys(session=session)
            current = current_signing_key(session=session)
            self.public = {
                key.kid: Ed25519PublicKey.from_public_bytes(b64url_decode(key.public_key))
                for key in keys
            }
            self.retired = {key.kid for key in keys if key.retired_at is not None}
            self.current = current.kid if current else None

        return self._watch.refresh(session, reload)

    def forget(self) -> None:
        self._watch.expire()

    def fresh(self) -> bool:
        return self._watch.fresh()

    def _private_key(self, kid: str) -> Ed25519PrivateKey:
        key = self._private.get(kid)
        if key is None:
            path = key_path(self.settings, kid)
            if not path.exists():
                raise InvalidInput(
                    _(
                        "The private half of signing key {kid} is not in {dir}; codes cannot be "
                        "issued on this machine."
                    ).format(kid=kid, dir=path.parent),
                    code="signing_key_missing",
                )
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(loaded, Ed25519PrivateKey):
                raise InvalidInput(
                    _("{path} is not an Ed25519 key.").format(path=path), code="bad_signing_key"
                )
            key = self._private[kid] = loaded
        return key

    def sign(self, *, session: Session, payload: dict[str, Any]) -> str:
        """Sign with the current key (made on first use)."""
        self.sync(session)
        if self.current is None:
            ensure_signing_key(session=session, settings=self.settings)
            self.forget()
            self.sync(session)
        assert self.current is not None
        return jwt.encode(
            payload,
            self._private_key(self.current),
            algorithm=ALGORITHM,
            headers={"kid": self.current, "typ": None},
        )

    def verify(self, token: str) -> tuple[dict[str, Any], str]:
        """The claims and key id of a token this keyring signed, or SignatureRefused.

        Expiry is not checked here: PlaceCode's clock may be shifted (the demo lives in
        2022), so callers compare `exp` with the one clock themselves.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise SignatureRefused("malformed") from None
        if header.get("alg") != ALGORITHM:
            raise SignatureRefused("unsupported_alg")
        kid = header.get("kid")
        if not isinstance(kid, str) or kid not in self.public:
            raise SignatureRefused("unknown_key")
        if kid in self.retired:
            raise SignatureRefused("retired_key")
        try:
            claims = jwt.decode(
                token, self.public[kid], algorithms=[ALGORITHM], options={"verify_exp": False}
            )
        except jwt.InvalidSignatureError:
            raise SignatureRefused("bad_signature") from None
        except jwt.PyJWTError:
            raise SignatureRefused("malformed") from None
        return claims, kid

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": b64url(raw_public(key)),
                    "kid": kid,
                    "use": "sig",
                    "alg": ALGORITHM,
                }
                for kid, key in sorted(self.public.items())
                if kid not in self.retired
            ]
        }
