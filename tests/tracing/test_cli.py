"""`placecode trace` from the command line: one case by document (JSON), a CDC cases file
(CSV, unknown and bad rows reported), the same findings as the service."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from placecode.checkins.store import COLUMNS, DAY, add_to_hourly_counts, ensure_partitions
from placecode.config import load_settings
from placecode.db import Database, DriverSql
from placecode.people import service as people
from placecode.people.sealing import load_sealer
from tests.cli.test_cli import run  # noqa: F401  (the fixture)
from tests.conftest import make_venue

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = int(datetime(2022, 3, 20, 9, tzinfo=SHANGHAI).timestamp())
PEOPLE = [("E20000001", "Index Case"), ("E20000002", "Close Contact"), ("E20000003", "Later")]


def district(run: Callable[..., subprocess.CompletedProcess[str]]) -> None:  # noqa: F811
    """A migrated district with one market and three people's scans there (and their
    hourly counts), committed."""
    assert run("init", "--password", "a-long-admin-password").returncode == 0
    settings = load_settings(
        database_url=run.env["PLACECODE_DATABASE_URL"],  # type: ignore[attr-defined]
        key_dir=Path(run.env["PLACECODE_KEY_DIR"]),  # type: ignore[attr-defined]
    )
    database = Database.connect(settings)
    try:
        with database.session() as session:
            market = make_venue(session, "追踪命令菜场", "taopu", "wet_market")
            details = [
                people.read_details(doc_type="passport", doc_number=number, name=name)
                for number, name in PEOPLE
            ]
            ids = people.ensure_people(
                session=session,
                settings=settings,
                sealer=load_sealer(settings),
                people=[(people.person_key_of(settings, d.document), d) for d in details],
                source="test",
            )
            keys = [people.person_key_of(settings, d.document) for d in details]
            ensure_partitions(session, [START - START % DAY, START - START % DAY + DAY])
            DriverSql(session).insert_rows(
                "checkins",
                COLUMNS,
                [
                    (
                        n + 1,
                        START + minutes * 60,
                        market.id,
                        ids[keys[n]],
                        "wechat",
                        "green",
                        True,
                        None,
                        None,
                        None,
                    )
                    for n, minutes in enumerate((0, 10, 120))
                ],
            )
            # The hourly counts the writer would keep with them.
            hours: dict[tuple[str, int], int] = {}
            for minutes in (0, 10, 120):
                at = START + minutes * 60
                hours[(market.id, at - at % 3600)] = hours.get((market.id, at - at % 3600), 0) + 1
            add_to_hourly_counts(DriverSql(session), hours)
    finally:
        database.dispose()


def test_trace_one_case_by_document_as_json(
    run: Callable[..., subprocess.CompletedProcess[str]],  # noqa: F811
) -> None:
    district(run)
    traced = run(
        "trace",
        "--doc-type",
        "passport",
        "--doc-number",
        PEOPLE[0][0],
        "--since",
        "2022-03-20 08:00",
        "--until",
        "2022-03-20 12:00",
        "--format",
        "json",
        PLACECODE_CLOCK_TODAY="2022-03-21",
    )
    assert traced.returncode == 0, traced.stderr
    found = json.loads(traced.stdout)
    (trajectory,) = found["trajectories"]
    assert [v["venue_name"] for v in trajectory["visits"]] == ["追踪命令菜场"]
    assert trajectory["since"] == "2022-03-20T08:00:00+08:00"
    assert [(c["name_masked"], c["finding"], c["overlap_minutes"]) for c in found["contacts"]] == [
        ("C**** C******", "close_contact", 35.0)
    ]


def test_trace_a_cases_file_reports_unknown_and_bad_rows(
    run: Callable[..., subprocess.CompletedProcess[str]],  # noqa: F811
    tmp_path: Path,
) -> None:
    district(run)
    cases = tmp_path / "cases.csv"
    cases.write_text(
        "doc_type,doc_number,name,phone,category,occurred_at,case_id\n"
        f"passport,{PEOPLE[0][0]},Index Case,,confirmed,2022-03-20 18:00,SH-1\n"
        "passport,E29999999,Never Scanned,,confirmed,2022-03-20 18:00,SH-2\n"
        "passport,E20000005,Bad Row,,unheard_of,2022-03-20 18:00,SH-3\n",
        encoding="utf-8",
    )
    out = tmp_path / "contacts.csv"
    traced = run(
        "trace",
        "--from-cases",
        str(cases),
        "--since",
        "2022-03-20 08:00",
        "--format",
        "csv",
        "--output",
        str(out),
        "--degree",
        "1",
        "--save",
        PLACECODE_CLOCK_TODAY="2022-03-21",
    )
    assert traced.returncode == 0, traced.stderr
    assert "row 4" in traced.stderr  # the unknown category
    assert "case 2: nobody with this document has scanned here" in traced.stderr
    assert "Saved as tracing case tc_" in traced.stdout
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [(r["name_masked"], r["finding"]) for r in rows] == [("C**** C******", "close_contact")]
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("doc_type,doc_number,name,phone,category,occurred_at,case_id\n")
    refused = run("trace", "--from-cases", str(nothing))
    assert refused.returncode == 1 and "no confirmed" in refused.stderr
    assert run("trace").returncode == 1
    assert run("trace", "--doc-number", "E1", "--format", "pdf").returncode == 1
