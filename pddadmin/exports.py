"""Helpers shared by every export of the product (CSV, XLSX)."""

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from django_tables2.export import TableExport

# A spreadsheet treats a cell starting with one of these as a formula (CSV/formula injection):
# "=HYPERLINK(...)" typed by a buyer into a statement must stay text when a reviewer opens the file.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Neutralise a string cell that a spreadsheet would run as a formula; other values pass through.

    Numbers are not strings and keep their sign; a negative amount exported as text "-5.00"
    becomes "'-5.00", which spreadsheets still display as the same text.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def attach(response: HttpResponse, filename: str) -> HttpResponse:
    """Mark `response` as a download named `filename`. A name made from a stored platform id may hold
    quotes, control characters or Chinese: RFC 6266 quoting keeps the header valid whatever it holds."""
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


class SafeTableExport(TableExport):
    """django-tables2 export with every cell through `safe_cell`: a goods or shop name like
    "=HYPERLINK(…)" stays text in the spreadsheet; the file name goes through `attach`."""

    def table_to_dataset(self, table, exclude_columns, dataset_kwargs=None):
        dataset = super().table_to_dataset(table, exclude_columns, dataset_kwargs)
        safe = type(dataset)(title=dataset.title)
        safe.headers = [safe_cell(h) for h in dataset.headers or []]
        for row in dataset:
            safe.append([safe_cell(cell) for cell in row])
        return safe

    def response(self, filename=None):
        response = super().response()
        return attach(response, filename) if filename else response
