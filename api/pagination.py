"""Keyset pagination by (updated_at, id), for ERPs that sync incrementally.

The cursor is the position after the last row returned; the next page is every row after it in
(updated_at, id) order. A case that changes gets a later updated_at and so comes again, further
on: a syncing ERP sees every change, and sees a case twice only when it changed in between. An
empty page answers with the cursor it was given, so the ERP keeps it and polls again later.

Rows changed less than API_SYNC_SETTLE_SECONDS ago are held back: updated_at is stamped when a
row is written, and a transaction still open could commit a row stamped before the last one a
reader saw; the settle time is longer than our write transactions last, so the cursor never
passes a row that is yet to become visible.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from .problems import NotFound


def encode_cursor(updated_at: dt.datetime, pk: int) -> str:
    text = f"{updated_at.astimezone(dt.UTC).isoformat()}|{pk}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _sep, pk = text.partition("|")
        updated_at = dt.datetime.fromisoformat(moment)
        if updated_at.tzinfo is None:
            raise ValueError("no offset")
        return updated_at, int(pk)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        # As DRF's own cursor pagination answers: there is no such page.
        raise NotFound(_("Not a cursor this API gave.")) from None


class UpdatedCursorPagination(BasePagination):
    page_size_query_param = "page_size"

    def settled_before(self) -> dt.datetime:
        return timezone.now() - dt.timedelta(seconds=settings.API_SYNC_SETTLE_SECONDS)

    def paginate_queryset(self, queryset: QuerySet, request, view=None, *, page_size: int, cursor: str | None):
        rows = queryset.filter(updated_at__lte=self.settled_before())
        self.cursor = cursor
        if cursor:
            updated_at, pk = decode_cursor(cursor)
            # The `>=` is implied by the OR, and is what the index (shop, updated_at, id) can start
            # its range at: without it PostgreSQL reads the shop's rows from the first one to the
            # cursor and filters them (bench/api.py: 10 ms at 50,000 rows deep).
            rows = rows.filter(updated_at__gte=updated_at).filter(
                Q(updated_at__gt=updated_at) | Q(updated_at=updated_at, pk__gt=pk)
            )
        page = list(rows.order_by("updated_at", "pk")[: page_size + 1])
        self.has_more = len(page) > page_size
        page = page[:page_size]
        if page:
            self.cursor = encode_cursor(page[-1].updated_at, page[-1].pk)
        return page

    def get_paginated_response(self, data) -> Response:
        return Response({"results": data, "next_cursor": self.cursor, "has_more": self.has_more})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["results", "next_cursor", "has_more"],
            "properties": {
                "results": schema,
                "next_cursor": {
                    "type": "string",
                    "nullable": True,
                    "description": "Pass as `cursor` for the rows after this page; keep it to poll for later changes.",
                },
                "has_more": {"type": "boolean", "description": "More rows follow now."},
            },
        }


def encode_id_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"id|{pk}".encode()).decode().rstrip("=")


def decode_id_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        label, _sep, pk = text.partition("|")
        if label != "id" or not pk.isdigit():
            raise ValueError("not an id cursor")
        return int(pk)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise NotFound(_("Not a cursor this API gave.")) from None


class WriteOrderCursorPagination(UpdatedCursorPagination):
    """Keyset pagination by id, for rows written once and never changed (charges): the order
    they were written in. An empty page answers with the cursor it was given, as above."""

    def paginate_queryset(self, queryset: QuerySet, request, view=None, *, page_size: int, cursor: str | None):
        rows = queryset
        self.cursor = cursor
        if cursor:
            rows = rows.filter(pk__gt=decode_id_cursor(cursor))
        page = list(rows.order_by("pk")[: page_size + 1])
        self.has_more = len(page) > page_size
        page = page[:page_size]
        if page:
            self.cursor = encode_id_cursor(page[-1].pk)
        return page
