"""The one settings class: every knob of PlaceCode, read from PLACECODE_* variables.

Every setting has a default that serves the embedded demo. With PLACECODE_ENV=production
the class refuses values that are only safe on a laptop and says which setting is wrong.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from placecode.errors import ConfigError

# Values people paste from tutorials; production refuses them even when set explicitly.
_WEAK_SECRETS = {"changethis", "change-me", "changeme", "secret", "password", "placecode"}
_MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PLACECODE_", env_file=".env", extra="ignore", validate_default=True
    )

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./placecode.db"
    key_dir: Path = Path(".placecode")
    public_base_url: str | None = Field(
        default=None, description="Where people reach the service; printed into every QR code."
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Signs session cookies. Generated into key_dir when unset."
    )
    pepper: SecretStr | None = Field(
        default=None, description="Keys the person_key HMAC. Generated into key_dir when unset."
    )

    trust_store: str | None = Field(
        default=None,
        description="PEM files of the CAs whose organisation certificates are trusted "
        "(comma-separated); default: the local demo CA made by `placecode ca init`.",
    )
    certificate_challenge_minutes: int = Field(default=10, ge=1, le=60)

    authority_public_key: Path | None = Field(
        default=None,
        description="The health authority's X25519 public key (PEM) that personal data is "
        "sealed to; default: key_dir/authority/public.pem, made by `placecode init`.",
    )
    authority_private_key: Path | None = Field(
        default=None,
        description="Its private key, read only when a CDC analyst re-identifies someone; "
        "default: key_dir/authority/private.pem if present.",
    )
    demo_identity: bool = Field(
        default=True,
        description="The built-in identity provider: citizens sign in with a one-time code "
        "shown on screen. Production relies on external issuers instead.",
    )
    citizen_token_days: int = Field(default=30, ge=1, le=365)
    personal_code_seconds: int = Field(default=90, ge=30, le=600)
    dedupe_minutes: int = Field(default=5, ge=0, le=120)
    scan_max_venues_per_minute: int = Field(default=20, ge=1)
    writer_batch_max: int = Field(default=500, ge=1)
    writer_max_wait_ms: float = Field(
        default=1.0, ge=0, description="How long the thread writer lets a batch gather."
    )
    writer_process: bool = Field(
        default=True,
        description="Write check-ins from a process of its own (one per server process); "
        "false: from a thread of the server's, as a database only it can see needs.",
    )
    writer_queue_max: int = Field(default=4000, ge=1)
    retention_days: int = Field(default=28, ge=1)

    # Colour rules (after Shanghai's 2022 rules); every period is a setting.
    close_contact_days: int = Field(
        default=7, ge=0, le=60, description="A close contact is red for this many days."
    )
    secondary_contact_days: int = Field(
        default=7, ge=0, le=60, description="A secondary contact is red for this many days."
    )
    risk_area_days: int = Field(
        default=7, ge=0, le=60, description="An arrival from a risk area is red this many days."
    )
    exposure_days: int = Field(
        default=7,
        ge=0,
        le=60,
        description="An exposure at a risky venue is yellow until a negative NAT sampled after "
        "it, or for at most this many days.",
    )
    yellow_without_nat: bool = Field(
        default=False,
        description="Yellow for anyone without a NAT sampled within nat_window_days.",
    )
    nat_window_days: int = Field(default=7, ge=1, le=60)

    # Foot traffic.
    surge_z: float = Field(
        default=3.5, gt=0, description="Robust z (median/MAD) at which a venue-day surges."
    )
    surge_ratio: float = Field(default=2.0, gt=1, description="…and this many times its usual.")
    surge_min_count: int = Field(default=50, ge=1, description="…and at least this many scans.")
    drop_ratio: float = Field(
        default=0.4, gt=0, lt=1, description="A drop: at most this share of the usual day…"
    )
    drop_min_baseline: int = Field(
        default=50, ge=1, description="…at a venue that usually has at least this many scans."
    )
    silent_days: int = Field(
        default=3, ge=1, le=28, description="A venue without scans this long is silent."
    )

    # Tracing.
    close_contact_minutes: int = Field(
        default=15,
        ge=1,
        le=1440,
        description="Minutes of overlap with an index case at which a visitor is a close "
        "contact (below: an exposure).",
    )
    trace_days_before: int = Field(
        default=4,
        ge=0,
        le=28,
        description="A case's trajectory starts this many days before its onset or sampling.",
    )
    scheduler: bool = Field(
        default=True, description="Run scheduled work (retention, …) inside the server."
    )

    timezone: str = "Asia/Shanghai"
    clock_today: date | None = Field(
        default=None, description="Shift the clock so that today is this day (the demo)."
    )
    clock_frozen_at: datetime | None = Field(
        default=None, description="Stop the clock at this instant (tests and rehearsals)."
    )

    cache_poll_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="How often a worker checks whether cached venues, keys or statuses "
        "changed elsewhere (so a change is seen everywhere within this time).",
    )
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL"] = "FULL"
    db_pool_size: int = Field(default=20, ge=1)  # about the size of the thread pool

    session_max_age_hours: int = Field(default=12, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    api_token_default_days: int = Field(default=90, ge=1)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65_536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("public_base_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:/// and postgresql+psycopg:// URLs are supported")
        if value.startswith("postgresql://") or value.startswith("postgresql+psycopg2"):
            # One driver everywhere: psycopg 3.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env != "production":
            return self
        problems = []
        for name in ("secret_key", "pepper"):
            secret: SecretStr | None = getattr(self, name)
            env_name = f"PLACECODE_{name.upper()}"
            if secret is None:
                problems.append(f"{env_name} is not set")
            else:
                raw = secret.get_secret_value()
                if raw.lower() in _WEAK_SECRETS or len(raw) < _MIN_SECRET_LENGTH:
                    problems.append(
                        f"{env_name} is a default or too short (needs {_MIN_SECRET_LENGTH}+ "
                        "random characters)"
                    )
        if self.public_base_url is None:
            problems.append("PLACECODE_PUBLIC_BASE_URL is not set (QR codes need it)")
        elif not self.public_base_url.startswith("https://"):
            problems.append("PLACECODE_PUBLIC_BASE_URL must use https:// in production")
        if self.clock_today is not None or self.clock_frozen_at is not None:
            problems.append("PLACECODE_CLOCK_TODAY/CLOCK_FROZEN_AT must not be set in production")
        if self.demo_identity:
            problems.append(
                "PLACECODE_DEMO_IDENTITY must be false in production (its sign-in codes are "
                "shown on screen); accept tokens from configured issuers instead"
            )
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def base_url(self) -> str:
        """The public base URL, or the local server when none is configured."""
        return self.public_base_url or "http://127.0.0.1:8000"

    def secret(self, name: Literal["secret_key", "pepper"]) -> str:
        """Return a deployment secret, generating a private one in key_dir for the demo."""
        configured: SecretStr | None = getattr(self, name)
        if configured is not None:
            return configured.get_secret_value()
        return _generated_secret(self.key_dir / name)


@cache
def _generated_secret(path: Path) -> str:
    """A secret kept in a file, made on first use; read once per process (the pseudonym of
    every scanned person is keyed by one)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a validation failure into one readable line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # overrides are validated here
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"PLACECODE_{field.upper()}: {message}" if field else message)
        raise ConfigError("; ".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
