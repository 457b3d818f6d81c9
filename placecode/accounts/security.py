"""Password hashing (argon2id) and API token secrets."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from placecode.config import Settings

TOKEN_PREFIX = "pct_"  # noqa: S105  (a marker that lets scanners spot leaked tokens)


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hasher(settings: Settings) -> PasswordHasher:
    return _hasher(
        settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
    )


def hash_password(settings: Settings, password: str) -> str:
    return hasher(settings).hash(password)


def verify_password(settings: Settings, password_hash: str, password: str) -> bool:
    try:
        return hasher(settings).verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(settings: Settings, password_hash: str) -> bool:
    """Whether a hash was made with other parameters than the configured ones."""
    return hasher(settings).check_needs_rehash(password_hash)


def dummy_hash(settings: Settings) -> str:
    """A hash to verify against for unknown users, so that they cost the same time."""
    return _dummy_hash(
        settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
    )


@lru_cache(maxsize=4)
def _dummy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_kib, parallelism).hash(secrets.token_urlsafe(16))


def new_token_secret() -> str:
    """A high-entropy bearer secret; SHA-256 is enough to store it (no guessing possible)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def generate_password() -> str:
    """A password that is easy to read out loud and hard to guess (about 95 bits)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    groups = ["".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4)]
    return "-".join(groups)
