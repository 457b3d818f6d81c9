from pathlib import Path

import pytest

from placecode.config import load_settings
from placecode.errors import ConfigError

STRONG = "s" * 40


def production(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "env": "production",
        "secret_key": STRONG,
        "pepper": "p" * 40,
        "public_base_url": "https://placecode.putuo.gov.cn",
        "demo_identity": False,
    }
    values.update(overrides)
    return values


def test_production_starts_with_real_secrets_and_a_public_https_url() -> None:
    settings = load_settings(**production())
    assert settings.base_url == "https://placecode.putuo.gov.cn"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"secret_key": None}, "PLACECODE_SECRET_KEY is not set"),
        ({"pepper": None}, "PLACECODE_PEPPER is not set"),
        ({"secret_key": "changethis"}, "PLACECODE_SECRET_KEY is a default or too short"),
        ({"pepper": "short"}, "PLACECODE_PEPPER is a default or too short"),
        ({"public_base_url": None}, "PLACECODE_PUBLIC_BASE_URL is not set"),
        ({"public_base_url": "http://placecode.test"}, "must use https://"),
        ({"clock_today": "2022-03-24"}, "CLOCK_TODAY"),
        ({"demo_identity": True}, "PLACECODE_DEMO_IDENTITY must be false"),
    ],
)
def test_production_refuses_unsafe_values_and_names_the_setting(
    overrides: dict[str, object], named: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(key_dir=tmp_path, **production(**overrides))
    assert named in refused.value.message
    assert "refusing to start in production" in refused.value.message


def test_production_refuses_from_the_environment_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLACECODE_ENV", "production")
    monkeypatch.delenv("PLACECODE_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="PLACECODE_SECRET_KEY"):
        load_settings()


def test_a_bad_value_names_its_variable() -> None:
    with pytest.raises(ConfigError, match="PLACECODE_TIMEZONE: unknown time zone"):
        load_settings(timezone="Mars/Olympus")
    with pytest.raises(ConfigError, match="PLACECODE_DATABASE_URL"):
        load_settings(database_url="mysql://x")


def test_a_plain_postgresql_url_uses_psycopg_3() -> None:
    settings = load_settings(database_url="postgresql://u@db/placecode")
    assert settings.database_url == "postgresql+psycopg://u@db/placecode"
    assert not settings.is_sqlite


def test_the_demo_defaults_to_sqlite_and_a_local_key_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("PLACECODE_DATABASE_URL", "PLACECODE_KEY_DIR", "PLACECODE_ENV"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite:///./placecode.db"
    assert settings.key_dir == Path(".placecode")
    assert settings.env == "development"


def test_outside_production_secrets_are_generated_once_and_kept(tmp_path: Path) -> None:
    settings = load_settings(key_dir=tmp_path / "keys", secret_key=None)
    first = settings.secret("secret_key")
    assert len(first) >= 40
    assert settings.secret("secret_key") == first
    assert (tmp_path / "keys" / "secret_key").stat().st_mode & 0o077 == 0
    assert settings.secret("pepper") != first
