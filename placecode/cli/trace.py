"""`placecode trace`: trace one index case, or every case in a CDC cases file, from the
command line; trajectories and contacts as JSON, CSV or Excel."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress
from rich.table import Table

from placecode.cli.common import console, errors, operator, unit_of_work
from placecode.errors import InvalidInput
from placecode.health import service as health
from placecode.health.service import CaseRow, ImportKind
from placecode.people.service import find_person
from placecode.tracing import service


def trace(
    doc_type: str = typer.Option("id_card", help="The index case's document type."),
    doc_number: str | None = typer.Option(None, help="The index case's document number."),
    person_key: str | None = typer.Option(None, help="Or the index case's person key."),
    from_cases: Path | None = typer.Option(
        None, exists=True, dir_okay=False, help="A CDC cases file (CSV or .xlsx): trace every row."
    ),
    since: str | None = typer.Option(None, help="Start of the window (default: onset − 4 days)."),
    until: str | None = typer.Option(None, help="End of the window (default: isolation or now)."),
    degree: int = typer.Option(2, min=1, max=2, help="1: contacts; 2: also their close contacts."),
    threshold: int | None = typer.Option(
        None, min=1, max=1440, help="Minutes together for a close contact (default 15)."
    ),
    format: str = typer.Option("table", help="table, json, csv or xlsx."),
    output: Path | None = typer.Option(None, help="Write here (csv and xlsx need a file)."),
    save: bool = typer.Option(False, help="Also save it as a tracing case (audited)."),
) -> None:
    """Trace index cases through the scan log: pseudonyms and masked fields only."""
    if format not in ("table", "json", "csv", "xlsx"):
        raise InvalidInput("--format is table, json, csv or xlsx.", code="format")
    if format in ("csv", "xlsx") and output is None:
        raise InvalidInput(f"--format {format} needs --output FILE.", code="output")
    # Traced while only reading, the case saved after: on SQLite a command that held the
    # write lock while it traced would keep the server's scans waiting.
    with unit_of_work(write=False) as (loaded, session):
        requests = _requests(loaded, doc_type, doc_number, person_key, from_cases, since, until)
        if from_cases is not None:
            requests = _known(session, requests)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("index cases", total=len(requests))
            plan = service.plan_case(
                session=session,
                settings=loaded,
                title=f"CLI trace of {len(requests)} index case(s)",
                people=requests,
                degree=degree,
                threshold_minutes=threshold,
                progress=lambda n: progress.advance(task, n),
            )
        found, indexes = plan.found, plan.indexes
        contacts = service.contact_rows(found)
        columns, rows = service.export_rows(session=session, settings=loaded, contacts=contacts)
        if format in ("csv", "xlsx"):
            assert output is not None
            output.write_bytes(service.export_bytes(columns, rows, format))
            console.print(f"{len(rows):,} contacts written to {output}.")
        elif format == "json":
            text = json.dumps(
                _as_json(session, loaded, found, indexes, columns, rows),
                ensure_ascii=False,
                indent=2,
            )
            if output is None:
                console.print(text, highlight=False, soft_wrap=True)
            else:
                output.write_text(text, encoding="utf-8")
                console.print(f"{len(rows):,} contacts written to {output}.")
        else:
            _table(session, loaded, found, indexes, columns, rows)
    if save:
        with unit_of_work() as (_loaded, writing):
            case = service.open_case(session=writing, actor=operator(), plan=plan)
        console.print(f"Saved as tracing case {case.id}.")


def _known(session: Any, requests: list[service.IndexRequest]) -> list[service.IndexRequest]:
    """The cases who ever scanned here; the others are reported and left out."""
    known = []
    for number, request in enumerate(requests, start=1):
        if find_person(session=session, person_key=request.person_key) is None:
            errors.print(
                f"case {number}: nobody with this document has scanned here; not traced.",
                highlight=False,
            )
        else:
            known.append(request)
    if not known:
        raise InvalidInput("None of the cases in the file has scanned here.", code="no_cases")
    return known


def _requests(
    loaded: Any,
    doc_type: str,
    doc_number: str | None,
    person_key: str | None,
    from_cases: Path | None,
    since: str | None,
    until: str | None,
) -> list[service.IndexRequest]:
    def moment(raw: str | None, field: str) -> datetime | None:
        return None if raw is None else health.parse_moment(raw, field=field, settings=loaded)

    if from_cases is not None:
        _rows, good, problems = health.read_health_file(
            kind=ImportKind.cases,
            settings=loaded,
            filename=from_cases.name,
            content=from_cases.read_bytes(),
        )
        for problem in problems:
            errors.print(f"row {problem.row}, {problem.field}: {problem.reason}", highlight=False)
        cases = [row for row in good if isinstance(row, CaseRow) and row.kind in service.CASE_KINDS]
        if not cases:
            raise InvalidInput(
                f"{from_cases.name} has no confirmed, asymptomatic or suspected case to trace.",
                code="no_cases",
            )
        return [
            service.IndexRequest(
                person_key=row.person_key,
                since=moment(since, "since"),
                until=moment(until, "until"),
            )
            for row in cases
        ]
    if person_key:
        key = person_key.strip().lower()
    elif doc_number:
        key = health.person_key_for(settings=loaded, doc_type=doc_type, doc_number=doc_number)
    else:
        raise InvalidInput(
            "Name the index case: --doc-number (with --doc-type), --person-key or --from-cases.",
            code="no_index",
        )
    return [service.IndexRequest(key, moment(since, "since"), moment(until, "until"))]


def _trajectories(
    session: Any, loaded: Any, found: service.Trace, indexes: list[service.IndexWindow]
) -> list[dict[str, Any]]:
    people = service.person_labels(session=session, person_ids=found.trajectories)
    venues = service.venue_labels(
        session=session,
        venue_ids=[v.venue_id for visits in found.trajectories.values() for v in visits],
    )
    zone = loaded.zone
    return [
        {
            "person_key": people[window.person_id].person_key,
            "name_masked": people[window.person_id].name_masked,
            "cluster": found.clusters.get(window.person_id, 0),
            "since": datetime.fromtimestamp(window.since, zone).isoformat(),
            "until": datetime.fromtimestamp(window.until, zone).isoformat(),
            "visits": [
                {
                    "venue_id": visit.venue_id,
                    "venue_name": venues[visit.venue_id].name,
                    "street_code": venues[visit.venue_id].street_code,
                    "category_code": venues[visit.venue_id].category_code,
                    "start": datetime.fromtimestamp(visit.start, zone).isoformat(),
                    "end": datetime.fromtimestamp(visit.end, zone).isoformat(),
                }
                for visit in found.trajectories[window.person_id]
            ],
        }
        for window in indexes
    ]


def _as_json(
    session: Any,
    loaded: Any,
    found: service.Trace,
    indexes: list[service.IndexWindow],
    columns: list[str],
    rows: list[list[Any]],
) -> dict[str, Any]:
    return {
        "trajectories": _trajectories(session, loaded, found, indexes),
        "contacts": [dict(zip(columns, row, strict=True)) for row in rows],
        "clusters": len(set(found.clusters.values())),
    }


def _table(
    session: Any,
    loaded: Any,
    found: service.Trace,
    indexes: list[service.IndexWindow],
    columns: list[str],
    rows: list[list[Any]],
) -> None:
    for trajectory in _trajectories(session, loaded, found, indexes):
        console.print(
            f"[bold]{trajectory['name_masked']}[/bold] {trajectory['person_key']} "
            f"(cluster {trajectory['cluster']}), {trajectory['since'][:16]} – "
            f"{trajectory['until'][:16]}:",
            highlight=False,
        )
        for visit in trajectory["visits"]:
            console.print(
                f"  {visit['start'][5:16].replace('T', ' ')}–{visit['end'][11:16]}  "
                f"{visit['venue_name']} "
                f"({visit['category_code']}, {visit['street_code']})",
                highlight=False,
            )
    table = Table("finding", "degree", "person_key", "name", "minutes", "first exposed", "where")
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        table.add_row(
            str(record["finding"]),
            str(record["degree"]),
            str(record["person_key"]),
            str(record["name_masked"]),
            str(record["overlap_minutes"]),
            str(record["first_exposed_at"]),
            str(record["venue_name"]),
        )
    console.print(table)
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row[1])] = counts.get(str(row[1]), 0) + 1
    summary = ", ".join(f"{n:,} {kind}" for kind, n in sorted(counts.items())) or "no contacts"
    console.print(f"{len(indexes)} index case(s): {summary}.")
