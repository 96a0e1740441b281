"""The base of every endpoint: the body size limit, the call log, and the shop's scope."""

from __future__ import annotations

import time

from django.conf import settings
from django.utils import timezone
from rest_framework.views import APIView

from ..auth import shop_of
from ..models import ShopApiKey
from ..problems import NotFound, PayloadTooLarge
from ..services import api_call_log


class ApiView(APIView):
    api_key: ShopApiKey | None = None
    idempotency_key: str = ""

    def shop(self):
        return shop_of(self.request)

    def initial(self, request, *args, **kwargs):
        # Before anything reads the body: a client that announces too much is refused unread.
        length = request.META.get("CONTENT_LENGTH") or ""
        if length.isdigit() and int(length) > settings.API_MAX_BODY_BYTES:
            raise PayloadTooLarge()
        super().initial(request, *args, **kwargs)

    def perform_authentication(self, request):
        super().perform_authentication(request)
        self.api_key = request.auth if isinstance(request.auth, ShopApiKey) else None

    def dispatch(self, request, *args, **kwargs):
        started, at = time.monotonic(), timezone.now()
        response = super().dispatch(request, *args, **kwargs)
        if self.api_key is not None:
            api_call_log(
                key=self.api_key,
                method=request.method,
                path=request.path,
                status=response.status_code,
                idempotency_key=self.idempotency_key,
                at=at,
                duration_ms=(time.monotonic() - started) * 1000,
            )
        return response


class NoSuchPath(ApiView):
    """Whatever path under /api/v1/ names nothing (a case id outside the id syntax, a typo) is a
    not_found problem like any other, not Django's HTML 404 page."""

    schema = None  # not an operation of the description
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def initial(self, request, *args, **kwargs):
        raise NotFound()
