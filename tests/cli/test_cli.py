"""The `placecode` command as an operator runs it: real processes, real databases."""

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from placecode import db
from tests.conftest import Databases

PLACECODE = str(Path(sys.executable).parent / "placecode")


@pytest.fixture
def run(databases: Databases, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the CLI against a fresh database of the backend under test."""
    env = {
        **os.environ,
        "PLACECODE_DATABASE_URL": databases.new_url(),
        "PLACECODE_KEY_DIR": str(tmp_path / "keys"),
        "PLACECODE_ARGON2_TIME_COST": "1",
        "PLACECODE_ARGON2_MEMORY_KIB": "8",
        "PLACECODE_ARGON2_PARALLELISM": "1",
        "COLUMNS": "200",
    }

    def invoke(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PLACECODE, *args],
            env={**env, **extra_env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    invoke.env = env  # type: ignore[attr-defined]
    return invoke


def test_db_upgrade_makes_the_schema_and_check_confirms_it(
    run: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    unmigrated = run("db", "check")
    assert unmigrated.returncode == 1
    assert "run `placecode db upgrade`" in unmigrated.stderr
    upgraded = run("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"from empty to {db.head_revision()}" in upgraded.stdout
    assert "already at" in run("db", "upgrade").stdout
    checked = run("db", "check")
    assert checked.returncode == 0, checked.stderr
    engine = create_engine(run.env["PLACECODE_DATABASE_URL"])  # type: ignore[attr-defined]
    try:
        assert {"users", "audit_log", "streets"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_init_loads_the_region_and_creates_a_first_admin_who_can_sign_in(
    run: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    first = run("init")
    assert first.returncode == 0, first.stderr
    assert "Loaded region 310107" in first.stdout
    password = re.search(r"Password: (\S+)", first.stdout)
    assert password, first.stdout
    again = run("init")
    assert "no administrator created" in again.stdout
    issued = run("tokens", "create", "admin", "--name", "check")
    assert issued.returncode == 0, issued.stderr
    assert re.search(r"pct_[A-Za-z0-9_-]{20,}", issued.stdout)
    listed = run("users", "list")
    assert "district_admin" in listed.stdout


def test_a_bad_region_file_is_one_clear_line_and_loads_nothing(
    run: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    run("db", "upgrade")
    bad = tmp_path / "region.json"
    bad.write_text('{"region": {"code": "310107"}}', encoding="utf-8")
    result = run("region", "load", str(bad))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: The region file is not valid")
    assert "Traceback" not in result.stderr
    good = run("region", "load")
    assert good.returncode == 0
    assert "10 streets and towns, 11 departments, 18 venue categories" in good.stdout


def test_users_and_tokens_from_the_command_line(
    run: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    run("init", "--password", "first-admin-password")
    wrong_scope = run("users", "create", "zhou", "--role", "street_admin", "--scope", "atlantis")
    assert wrong_scope.returncode == 1
    assert wrong_scope.stderr.strip() == "error: There is no street or town with code 'atlantis'."
    created = run("users", "create", "zhou", "--role", "street_admin", "--scope", "wanli")
    assert created.returncode == 0, created.stderr
    assert "Password:" in created.stdout  # not a terminal: generated and shown once
    device = run("users", "create", "gate-7", "--role", "sentinel", "--scope", "venue-7")
    assert device.returncode == 0, device.stderr
    assert "Password:" not in device.stdout
    token = run("tokens", "create", "gate-7", "--name", "east gate", "--days", "30")
    token_id = re.search(r"Token (tok_[0-9a-f]+)", token.stdout)
    assert token_id
    assert "east gate" in run("tokens", "list", "gate-7").stdout
    assert run("tokens", "revoke", token_id.group(1)).returncode == 0
    assert run("users", "disable", "zhou").returncode == 0
    missing = run("users", "disable", "nobody")
    assert (missing.returncode, missing.stderr.strip()) == (1, "error: There is no user 'nobody'.")
    duplicate = run("users", "create", "zhou", "--role", "cdc_analyst")
    assert duplicate.returncode == 1
    assert "is taken" in duplicate.stderr


def test_production_refuses_to_start_on_default_secrets(
    run: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = run("db", "upgrade", PLACECODE_ENV="production")
    assert result.returncode == 1
    assert "refusing to start in production" in result.stderr
    assert "PLACECODE_SECRET_KEY is not set" in result.stderr
    assert "PLACECODE_PUBLIC_BASE_URL is not set" in result.stderr


def test_an_unreachable_database_is_one_clear_line(
    run: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = run(
        "db", "upgrade", PLACECODE_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none"
    )
    assert result.returncode == 1
    assert result.stderr.startswith("database error:")
    assert "Traceback" not in result.stderr


def test_serve_runs_several_workers_and_sums_their_metrics(
    run: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    import socket
    import time

    import httpx

    assert run("init", "--password", "first-admin-password").returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [PLACECODE, "serve", "--port", str(port), "--workers", "2"],
        env=run.env,  # type: ignore[attr-defined]
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.2)
        for _ in range(9):  # new connections, so both workers may answer
            assert httpx.get(f"{base}/healthz").status_code == 200
        metrics = httpx.get(f"{base}/metrics").text
        line = next(
            row
            for row in metrics.splitlines()
            if row.startswith("placecode_http_requests_total{") and 'route="/healthz"' in row
        )
        assert float(line.rsplit(" ", 1)[1]) >= 10
    finally:
        server.terminate()
        server.wait(timeout=20)
