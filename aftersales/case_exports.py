"""`export_cases` (SPEC §9): one row per case, streamed straight from one query."""

import csv
import json
from collections.abc import Iterator
from typing import IO, Any

from django.db.models import F, Q
from django.utils import timezone

from pddadmin.exports import safe_cell

from .models import AfterSalesCase

COLUMNS = [
    "case",
    "order",
    "shop",
    "kind",
    "state",
    "close_reason",
    "reason",
    "amount",
    "refund_amount",
    "refunded_at",
    "intervened",
    "liable",
]


def case_rows(*, chunk_size: int = 5000) -> Iterator[dict[str, Any]]:
    """Rows in case-id order with JSON-ready values: platform ids, "59.90" amounts, ISO-8601
    times with their offset, None where a value is absent. One query, no per-row lookups."""
    rows = (
        AfterSalesCase.objects.order_by("pk")
        .annotate(
            case_id=F("platform_id"),
            order_id_=F("order__platform_id"),
            shop_id_=F("shop__platform_id"),
            refund_amount=F("refund__amount"),
            refunded_at=F("refund__refunded_at"),
            intervened=Q(intervened_at__isnull=False),
        )
        .values_list(
            "case_id",
            "order_id_",
            "shop_id_",
            "kind",
            "state",
            "close_reason",
            "reason",
            "amount",
            "refund_amount",
            "refunded_at",
            "intervened",
            "liable",
        )
        .iterator(chunk_size=chunk_size)
    )
    for (
        case,
        order,
        shop,
        kind,
        state,
        close_reason,
        reason,
        amount,
        refund_amount,
        refunded_at,
        intervened,
        liable,
    ) in rows:
        yield {
            "case": case,
            "order": order,
            "shop": shop,
            "kind": kind,
            "state": state,
            "close_reason": close_reason or None,
            "reason": reason,
            "amount": f"{amount:.2f}",
            "refund_amount": None if refund_amount is None else f"{refund_amount:.2f}",
            "refunded_at": None if refunded_at is None else timezone.localtime(refunded_at).isoformat(),
            "intervened": bool(intervened),
            "liable": liable or None,
        }


def write_cases(out: IO[str], *, fmt: str = "jsonl") -> int:
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in case_rows():
            writer.writerow([_csv_value(row[c]) for c in COLUMNS])
            count += 1
        return count
    for row in case_rows():
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return safe_cell(value)
