"""The `placecode` command as an operator runs it, against real databases.

Most commands run in this process through the same entry function the installed script
calls (`placecode.cli.run`), which keeps the suite fast; the tests at the end start the
installed command as a real process.
"""

import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, make_url

from placecode import cli, db
from placecode.cli import common
from placecode.config import get_settings
from tests.conftest import Databases

PLACECODE = str(Path(sys.executable).parent / "placecode")


@pytest.fixture
def run(
    databases: Databases,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run a command against a fresh database of the backend under test."""
    env = {
        "PLACECODE_DATABASE_URL": databases.new_url(),
        "PLACECODE_KEY_DIR": str(tmp_path / "keys"),
        "PLACECODE_ARGON2_TIME_COST": "1",
        "PLACECODE_ARGON2_MEMORY_KIB": "8",
        "PLACECODE_ARGON2_PARALLELISM": "1",
    }
    monkeypatch.setattr(common.console, "width", 200)
    monkeypatch.setattr(common.errors, "width", 200)

    def invoke(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        for name in ("PLACECODE_ENV", "PLACECODE_SECRET_KEY", "PLACECODE_PEPPER"):
            monkeypatch.delenv(name, raising=False)
        for name, value in {**env, **extra_env}.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        status = cli.run(list(args))
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), status, captured.out, captured.err)

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
    run: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    run("init", "--password", "first-admin-password")
    venues_csv = tmp_path / "venues.csv"
    venues_csv.write_text(
        "name,address,street,category,lon,lat,operator_name\n"
        "东门小卖部,万里路1号,wanli,shop,,,东门小卖部\n",
        encoding="utf-8",
    )
    imported = run("venues", "import", str(venues_csv), "--user", "admin")
    assert imported.returncode == 0, imported.stderr
    assert "registered 1" in imported.stdout
    wrong_scope = run("users", "create", "zhou", "--role", "street_admin", "--scope", "atlantis")
    assert wrong_scope.returncode == 1
    assert wrong_scope.stderr.strip() == "error: There is no street or town with code 'atlantis'."
    created = run("users", "create", "zhou", "--role", "street_admin", "--scope", "wanli")
    assert created.returncode == 0, created.stderr
    assert "Password:" in created.stdout  # not a terminal: generated and shown once
    nowhere = run("users", "create", "gate-7", "--role", "sentinel", "--scope", "nowhere")
    assert nowhere.stderr.strip() == "error: There is no venue 'nowhere'."
    venue_id = _venue_id(run)
    device = run("users", "create", "gate-7", "--role", "sentinel", "--scope", venue_id)
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


def _venue_id(run: Callable[..., subprocess.CompletedProcess[str]]) -> str:
    engine = create_engine(run.env["PLACECODE_DATABASE_URL"])  # type: ignore[attr-defined]
    try:
        with engine.connect() as connection:
            return str(connection.exec_driver_sql("SELECT id FROM venues").scalar_one())
    finally:
        engine.dispose()


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


def test_the_installed_command_reports_failures_with_its_exit_status(
    run: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    env = {**os.environ, **run.env}  # type: ignore[attr-defined]

    def installed(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PLACECODE, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    assert installed("init", "--password", "first-admin-password").returncode == 0
    missing = installed("users", "disable", "nobody")
    assert (missing.returncode, missing.stderr.strip()) == (1, "error: There is no user 'nobody'.")
    usage = installed("users", "create")
    assert usage.returncode == 2
    assert "Missing argument" in usage.stderr


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
        env={**os.environ, **run.env},  # type: ignore[attr-defined]
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


def test_the_demo_ca_issues_certificates_that_the_server_accepts(
    run: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    from placecode.config import load_settings
    from placecode.venues import certificates

    assert run("init", "--password", "first-admin-password").returncode == 0  # makes the CA too
    mistyped = run(
        "ca", "issue-org", "--uscc", "91440300708461136X", "--name", "x", "--out", str(tmp_path)
    )
    assert mistyped.returncode == 1
    assert mistyped.stderr.startswith("error: The check character of 91440300708461136X")
    issued = run(
        "ca",
        "issue-org",
        "--uscc",
        "91440300708461136T",
        "--name",
        "长风物业",
        "--out",
        str(tmp_path),
    )
    assert issued.returncode == 0, issued.stderr
    pem = (tmp_path / "91440300708461136T.pem").read_text()
    key = tmp_path / "91440300708461136T.key"
    assert key.stat().st_mode & 0o077 == 0
    signed = run("ca", "sign-challenge", "--key", str(key), "--challenge", "placecode-verify:x")
    settings = load_settings(key_dir=run.env["PLACECODE_KEY_DIR"])  # type: ignore[attr-defined]
    checked = certificates.check_certificate(
        pem=pem, roots=certificates.load_trust_store(settings), now=datetime.now(UTC)
    )
    certificates.check_possession(
        checked, "placecode-verify:x", certificates.decode_signature(signed.stdout.strip())
    )


def test_keys_rotate_and_retire(run: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    def kids() -> list[str]:
        return re.findall(r"\b([0-9a-f]{8})\b", run("keys", "list").stdout)

    run("init", "--password", "first-admin-password")
    (first,) = kids()  # init made the first key
    rotated = run("keys", "rotate")
    new_kid = re.search(r"New signing key (\w+)", rotated.stdout)
    assert new_kid
    assert set(kids()) == {first, new_kid.group(1)}
    refused = run("keys", "retire", new_kid.group(1))
    assert refused.returncode == 1
    assert "rotate" in refused.stderr
    assert run("keys", "retire", first).returncode == 0
    assert "retired" not in run("keys", "retire", first).stderr  # retiring twice is harmless


def test_check_ins_are_imported_and_purged_from_the_command_line(
    run: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    from placecode.clock import clock

    run("init", "--password", "first-admin-password")
    venues_csv = tmp_path / "venues.csv"
    venues_csv.write_text(
        "name,address,street,category,lon,lat,operator_name\n东门小卖部,万里路1号,wanli,shop,,,东门小卖部\n",
        encoding="utf-8",
    )
    run("venues", "import", str(venues_csv), "--user", "admin")
    venue_id = _venue_id(run)
    now = clock.local_now()
    book = tmp_path / "book.csv"
    book.write_text(
        "venue_id,scanned_at,doc_type,doc_number,name,phone,checkout_at\n"
        f"{venue_id},{now - timedelta(hours=3):%Y-%m-%d %H:%M},passport,E12121212,Li Lei,,\n"
        f"{venue_id},{now - timedelta(hours=2):%Y-%m-%d %H:%M},passport,E13131313,Han Meimei,,\n"
        f"nowhere,{now - timedelta(hours=2):%Y-%m-%d %H:%M},passport,E14141414,Nobody,,\n",
        encoding="gb18030",
    )
    imported = run("import", "checkins", str(book))
    assert imported.returncode == 1  # one bad row
    assert "3 rows: wrote 2, 0 already there, 1 rejected." in imported.stdout
    assert "row 4, venue_id" in imported.stderr
    again = run("import", "checkins", str(book))
    assert "wrote 0, 2 already there" in again.stdout
    purged = run("purge", "--days", "1")
    assert purged.returncode == 0, purged.stderr
    assert "Removed 0 check-ins" in purged.stdout


def test_cdc_files_are_imported_from_the_command_line_with_a_report(
    run: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    run("init", "--password", "first-admin-password")
    cases = tmp_path / "cases.csv"
    cases.write_text(
        "doc_type,doc_number,name,phone,category,occurred_at,case_id\n"
        "passport,E1000001,Ann Lee,,close_contact,2022-03-20 10:00,SH-1\n"
        "passport,E1000002,,,rumour,2022-03-20 10:00,\n",
        encoding="gb18030",
    )
    imported = run("import", "cases", str(cases))
    assert imported.returncode == 1  # one bad row
    assert "2 rows: wrote 1, 0 already there, 1 rejected." in imported.stdout
    assert "row 3, category: Unknown category 'rumour'" in imported.stderr
    assert "wrote 0, 1 already there" in run("import", "cases", str(cases)).stdout
    nat = tmp_path / "nat.csv"
    nat.write_text(
        "doc_type,doc_number,sampled_at,result,institution\n"
        "passport,E1000001,2022-03-21 08:00,negative,Putuo hospital\n"
    )
    assert "would write 1" in run("import", "nat", str(nat), "--dry-run").stdout
    assert run("import", "nat", str(nat)).returncode == 0
    doses = tmp_path / "doses.csv"
    doses.write_text(
        "doc_type,doc_number,dose,vaccinated_at,product\npassport,E1000001,1,2021-05-01,科兴\n"
    )
    assert run("import", "vaccinations", str(doses)).returncode == 0
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    refused = run("import", "nat", str(empty))
    assert refused.returncode == 2
    assert "empty.csv: The file is empty." in refused.stderr


def test_demo_issuers_sign_tokens_the_server_accepts(
    run: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    run("init", "--password", "first-admin-password")
    assert "suishenban, wechat, alipay" in run("identity", "demo-issuers").stdout
    assert "wechat" in run("identity", "list").stdout
    token = run(
        "identity",
        "token",
        "--issuer",
        "wechat",
        "--doc-type",
        "passport",
        "--doc-number",
        "E12345678",
        "--name",
        "Ann",
    )
    assert token.returncode == 0, token.stderr
    assert token.stdout.count(".") == 2
    unknown = run("identity", "token", "--issuer", "nobody", "--doc-number", "E1")
    assert unknown.returncode == 1
    assert run("identity", "revoke", "wechat").returncode == 0


def test_a_command_that_changes_something_waits_for_the_writer_instead_of_failing(
    run: Callable[..., subprocess.CompletedProcess[str]], databases: Databases
) -> None:
    """On SQLite (whatever the backend under test): another writer (the server's check-in
    writer, mid-batch) holds the write lock and commits while the command is under way.
    A command that had read first would be refused; it takes the lock first and waits."""
    url = databases.new_url("sqlite")
    assert (
        run("init", "--password", "first-admin-password", PLACECODE_DATABASE_URL=url).returncode
        == 0
    )
    created = run("users", "create", "zhou", "--role", "cdc_analyst", PLACECODE_DATABASE_URL=url)
    assert created.returncode == 0, created.stderr
    writer = sqlite3.connect(
        make_url(url).database or "", isolation_level=None, check_same_thread=False
    )
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("PRAGMA user_version = 7")  # a change, so that an earlier read is stale
    committed = threading.Timer(0.5, writer.execute, ("COMMIT",))
    committed.start()
    try:
        disabled = run("users", "disable", "zhou", PLACECODE_DATABASE_URL=url)
    finally:
        committed.join()
        writer.close()
    assert disabled.returncode == 0, disabled.stderr
    listed = run("users", "list", PLACECODE_DATABASE_URL=url)
    assert re.search(r"zhou .*cdc_analyst .* no ", listed.stdout), listed.stdout
