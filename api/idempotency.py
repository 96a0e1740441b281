"""Writes that are safe to retry (SPEC §10): the Idempotency-Key header.

`idempotent` wraps a write handler. Inside one transaction it first inserts the request's row
(api key, Idempotency-Key, fingerprint of method, path and body); the unique constraint makes a
copy of the request arriving meanwhile wait on that insert until the first commits, then find
the row and answer what the first answered: the write applies once, whatever the timing. The
answer (status and body, a refusal included) is stored in the same transaction as the write, so
there is never a write without its answer or an answer without its write. A server error rolls
both back and the key may be retried.

A key is kept API_IDEMPOTENCY_TTL seconds (24 h). Purged lazily: each write of an API key first
deletes that key's rows past the TTL (an indexed range on (api key, created_at)); a row found
past its TTL is treated as absent.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.response import Response

from .models import IdempotentRequest
from .problems import IdempotencyKeyReused, ValidationFailed

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEY_PATTERN = r"^[\x21-\x7e]+$"  # visible ASCII, as an HTTP header carries it without quoting
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_KEY = re.compile(KEY_PATTERN)


def idempotency_key(request) -> str:
    key = request.headers.get(HEADER, "")
    if not key:
        raise ValidationFailed(extra={"errors": {HEADER: [_("Every write needs an Idempotency-Key header.")]}})
    if len(key) > MAX_KEY_LENGTH or not _KEY.match(key):
        raise ValidationFailed(extra={"errors": {HEADER: [_("1 to 255 visible ASCII characters, e.g. a UUID.")]}})
    return key


def fingerprint(request) -> str:
    """The request as far as a retry must repeat it: method, path and the body's JSON (keys
    sorted, so a client that reorders its keys on retry is still retrying)."""
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _replay(row: IdempotentRequest) -> Response:
    response = Response(row.body, status=row.status_code, content_type=row.content_type or None)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(handler):
    """Decorator of a view's write method (an `api.views.base.ApiView`'s)."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = idempotency_key(request)
        view.idempotency_key = key
        api_key = request.auth
        now = timezone.now()
        seen = fingerprint(request)
        expired = now - dt.timedelta(seconds=settings.API_IDEMPOTENCY_TTL)
        with transaction.atomic():
            IdempotentRequest.objects.filter(api_key=api_key, created_at__lt=expired).delete()
            try:
                with transaction.atomic():
                    row = IdempotentRequest.objects.create(
                        api_key=api_key,
                        key=key,
                        fingerprint=seen,
                        method=request.method,
                        path=request.path[:300],
                        created_at=now,
                    )
            except IntegrityError:
                first = IdempotentRequest.objects.get(api_key=api_key, key=key)
                if first.fingerprint != seen:
                    raise IdempotencyKeyReused(
                        _("Idempotency-Key %(key)s was first used for %(method)s %(path)s with another body.")
                        % {"key": key, "method": first.method, "path": first.path}
                    ) from None
                return _replay(first)
            try:
                response = handler(view, request, *args, **kwargs)
            except Exception as exc:  # answered as its problem document, and that answer kept
                response = view.handle_exception(exc)
            if response.status_code >= 500:
                transaction.set_rollback(True)
                return response
            row.status_code = response.status_code
            row.body = response.data
            row.content_type = response.content_type or ""  # set for problem documents only
            row.save(update_fields=["status_code", "body", "content_type"])
        return response

    return wrapper
