"""Tabular files in and out: CSV (UTF-8 or GB18030) or .xlsx, read row by row, and
exports that a spreadsheet cannot mistake for formulas.

Imports name their rows the way a spreadsheet does (the header is row 1), so a person
can find the line a report points at.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from placecode.errors import InvalidInput
from placecode.i18n import _

MAX_ROWS = 200_000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Row:
    number: int
    values: dict[str, str]


class RowProblem(BaseModel):
    row: int
    field: str
    reason: str


class ImportReport(BaseModel):
    """What an import did: every row is accepted, unchanged (seen before) or rejected."""

    rows: int
    accepted: int
    unchanged: int
    rejected: int
    problems: list[RowProblem]
    dry_run: bool = False


def decode_text(content: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (what Excel writes in Chinese locales)."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030")
    except UnicodeDecodeError:
        raise InvalidInput(
            _("The file is neither UTF-8 nor GB18030 text, nor an .xlsx workbook."),
            code="unreadable_file",
        ) from None


def _xlsx_rows(content: bytes) -> list[list[str]]:
    from openpyxl import load_workbook  # only imports of workbooks pay for it

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InvalidInput(
            _("The workbook cannot be read: {reason}").format(reason=exc), code="unreadable_file"
        ) from None
    sheet = workbook.worksheets[0]
    rows = []
    for values in sheet.iter_rows(values_only=True):
        rows.append(["" if value is None else _cell_text(value) for value in values])
    workbook.close()
    return rows


def _cell_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def read_table(*, filename: str, content: bytes, columns: Sequence[str]) -> list[Row]:
    """Read a CSV or .xlsx file whose header names (at least) `columns`."""
    if not content.strip():
        raise InvalidInput(_("The file is empty."), code="empty_file")
    if filename.lower().endswith(".xlsx") or content[:4] == b"PK\x03\x04":
        raw_rows = _xlsx_rows(content)
    else:
        text = decode_text(content)
        try:
            raw_rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            raise InvalidInput(
                _("The CSV cannot be read: {reason}").format(reason=exc), code="unreadable_file"
            ) from None
    if not raw_rows:
        raise InvalidInput(_("The file is empty."), code="empty_file")
    header = [cell.strip().lstrip("\ufeff").lower() for cell in raw_rows[0]]
    missing = [column for column in columns if column not in header]
    if missing:
        raise InvalidInput(
            _("The header row lacks the columns {missing}; expected {expected}.").format(
                missing=", ".join(missing), expected=",".join(columns)
            ),
            code="missing_columns",
        )
    if len(raw_rows) - 1 > MAX_ROWS:
        raise InvalidInput(
            _("The file has {n} rows; split it into files of at most {max} rows.").format(
                n=len(raw_rows) - 1, max=MAX_ROWS
            ),
            code="too_many_rows",
        )
    positions = {column: header.index(column) for column in columns}
    rows = []
    for number, raw in enumerate(raw_rows[1:], start=2):
        if not any(cell.strip() for cell in raw):
            continue
        values = {
            column: (raw[index].strip() if index < len(raw) else "")
            for column, index in positions.items()
        }
        rows.append(Row(number=number, values=values))
    return rows


def neutralise(value: Any) -> str:
    """A cell as text that no spreadsheet will run as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_bytes(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A CSV export (UTF-8 with BOM, so Excel reads Chinese) with every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([neutralise(value) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
