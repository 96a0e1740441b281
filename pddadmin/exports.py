"""Every export of the product writes its rows here: the commands of SPEC §9 (jsonl, csv) and the
downloads of the pages (csv, xlsx), with one rule for what a spreadsheet must not run.

- jsonl: one JSON object a line, the row's values as given (the callers make them JSON-ready:
  "59.90" amounts, ISO-8601 times, None for null); nothing is neutralised, JSON is not a sheet.
- csv: a header row, then one line a row; None is an empty cell, a boolean "true"/"false", and
  every text cell goes through `safe_cell`. A download (a file for a person) starts with a UTF-8
  byte-order mark: without it Excel reads the file in the system's code page and Chinese turns to
  mojibake. A command's output does not (SPEC §9's files are read by programs, which the mark
  would trip: `"\ufeffcase"` is not the column `case`).
- xlsx: one sheet through tablib (bold, frozen header); numbers, booleans and empty cells keep
  their type, text goes through `safe_cell`.
"""

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

import tablib
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from django_tables2.export import ExportMixin, TableExport

FORMATS = ("jsonl", "csv", "xlsx")
CONTENT_TYPES = {
    "jsonl": "application/jsonl; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# A spreadsheet treats a cell starting with one of these as a formula (CSV/formula injection):
# "=HYPERLINK(...)" typed by a buyer into a statement must stay text when a reviewer opens the file.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A plain number is what it looks like, also with a sign: "-100.00" stays the number -100.00.
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?\Z")

Row = Mapping[str, Any] | Sequence[Any]


def safe_cell(value: Any) -> Any:
    """Neutralise a text cell that a spreadsheet would run as a formula (prefix it with "'", which
    spreadsheets show as text); plain numbers, also negative ones, and other values pass through."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return safe_cell(value)


def _cells(row: Row, columns: Sequence[str]) -> list[Any]:
    return [row[c] for c in columns] if isinstance(row, Mapping) else list(row)


def write_rows(
    out: IO,
    rows: Iterable[Row],
    *,
    columns: Sequence[str],
    fmt: str,
    line_end: str = "\n",
    title: str = "",
    bom: bool = False,
) -> int:
    """Write `rows` (mappings with at least `columns`, or sequences in their order) to `out` as
    `fmt`; return how many rows. `out` takes text for jsonl and csv, bytes for xlsx. `line_end`
    ends each csv line: "\\n" on a command's standard output, "\\r\\n" (RFC 4180) in a download;
    `title` names the xlsx sheet; `bom` starts a csv with the byte-order mark (downloads)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    count = 0
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(dict(zip(columns, _cells(row, columns), strict=True)), ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "csv":
        if bom:
            out.write("\ufeff")
        writer = csv.writer(out, lineterminator=line_end)
        writer.writerow([safe_cell(c) for c in columns])
        for row in rows:
            writer.writerow([_csv_cell(v) for v in _cells(row, columns)])
            count += 1
    else:
        sheet = tablib.Dataset(headers=[safe_cell(c) for c in columns], title=title or None)
        for row in rows:
            sheet.append([safe_cell(v) for v in _cells(row, columns)])
            count += 1
        out.write(sheet.export("xlsx"))
    return count


def attach(response: HttpResponse, filename: str) -> HttpResponse:
    """Mark `response` as a download named `filename`. A name made from a stored platform id may hold
    quotes, control characters or Chinese: RFC 6266 quoting keeps the header valid whatever it holds."""
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def download(rows: Iterable[Row], *, columns: Sequence[str], fmt: str, filename: str, title: str = "") -> HttpResponse:
    """`rows` as a file to download, named `filename` (its extension is the caller's)."""
    response = HttpResponse(content_type=CONTENT_TYPES[fmt])
    write_rows(response, rows, columns=columns, fmt=fmt, line_end="\r\n", title=title, bom=True)
    return attach(response, filename)


class SafeTableExport(TableExport):
    """django-tables2's export of a table (its columns' export values, headers and exclusions),
    written by `write_rows`: a goods or shop name like "=HYPERLINK(…)" stays text in the sheet, and
    the file name goes through `attach`. Only the formats `write_rows` writes for downloads."""

    FORMATS = {fmt: CONTENT_TYPES[fmt] for fmt in ("csv", "xlsx")}

    @classmethod
    def is_valid_format(cls, export_format) -> bool:
        return export_format in cls.FORMATS

    def _export_args(self) -> dict:
        return {
            "rows": (list(row) for row in self.dataset),
            "columns": list(self.dataset.headers or []),
            "fmt": self.format,
            "title": self.dataset.title or "",
        }

    def export(self):
        out = io.BytesIO() if self.format == "xlsx" else io.StringIO()
        write_rows(out, **self._export_args(), line_end="\r\n", bom=True)
        return out.getvalue()

    def response(self, filename=None):
        return download(**self._export_args(), filename=filename or f"export.{self.format}")


def table_download(request, table, stem: str) -> HttpResponse | None:
    """The file a function view's table asks for with `?_export=csv|xlsx` (named `stem.fmt`), or
    None when the request is for the page; the views' counterpart of `SafeExportMixin`."""
    export_format = request.GET.get("_export")
    if not SafeTableExport.is_valid_format(export_format):
        return None
    return SafeTableExport(export_format, table).response(f"{stem}.{export_format}")


class SafeExportMixin(ExportMixin):
    """django-tables2's ExportMixin for a list view, through `SafeTableExport` (csv and xlsx)."""

    export_class = SafeTableExport
    export_formats = tuple(SafeTableExport.FORMATS)
