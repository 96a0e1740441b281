"""`export_cases` (SPEC §9): one row per case, streamed straight from one query to `write_rows`."""

from collections.abc import Iterator
from typing import IO, Any

from django.db.models import Q
from django.utils import timezone

from pddadmin.exports import write_rows

from .models import AfterSalesCase

# Each exported column and where it comes from: one place, so the header and the query agree.
SOURCES = {
    "case": "platform_id",
    "order": "order__platform_id",
    "shop": "shop__platform_id",
    "kind": "kind",
    "state": "state",
    "close_reason": "close_reason",
    "reason": "reason",
    "amount": "amount",
    "refund_amount": "refund__amount",
    "refunded_at": "refund__refunded_at",
    "intervened": "was_intervened",
    "liable": "liable",
}
COLUMNS = list(SOURCES)


def _money(value) -> str | None:
    return None if value is None else f"{value:.2f}"


FORMATS = {
    "close_reason": lambda v: v or None,
    "liable": lambda v: v or None,
    "amount": _money,
    "refund_amount": _money,
    "refunded_at": lambda v: None if v is None else timezone.localtime(v).isoformat(),
    "intervened": bool,
}


def case_rows(*, chunk_size: int = 5000) -> Iterator[dict[str, Any]]:
    """Rows in case-id order with JSON-ready values: platform ids, "59.90" amounts, ISO-8601
    times with their offset, None where a value is absent. One query, no per-row lookups."""
    rows = (
        AfterSalesCase.objects.order_by("pk")
        .annotate(was_intervened=Q(intervened_at__isnull=False))
        .values_list(*SOURCES.values())
        .iterator(chunk_size=chunk_size)
    )
    for values in rows:
        yield {
            column: FORMATS[column](value) if column in FORMATS else value
            for column, value in zip(COLUMNS, values, strict=True)
        }


def write_cases(out: IO[str], *, fmt: str = "jsonl") -> int:
    return write_rows(out, case_rows(), columns=COLUMNS, fmt=fmt)
