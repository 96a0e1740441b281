"""Authentication by API key (SPEC §10) and what each key's role may do.

`Authorization: Api-Key <prefix>.<secret>` (djangorestframework-api-key's default header). The
key authenticates as its shop: `request.auth` is the ShopApiKey, `request.user` the owner who
created it (the services log a transition's actor, and the case rules ask that the actor still
handles the shop's cases: a key whose owner left the shop stops working for writes).
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions, permissions
from rest_framework_api_key.permissions import KeyParser

from .models import KeyRole, ShopApiKey

# A key's last use is written at most this often: a busy ERP must not write its key's row per call.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def touch(key: ShopApiKey, now: dt.datetime) -> None:
    """Record that `key` was used, unless that was recorded less than a minute ago. The
    conditional update keeps concurrent calls from writing the row more than once a minute."""
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    stale = now - LAST_USED_RESOLUTION
    ShopApiKey.objects.filter(pk=key.pk).exclude(last_used_at__gt=stale).update(last_used_at=now)
    key.last_used_at = now


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = KeyParser.keyword
    parser = KeyParser()

    def authenticate(self, request):
        presented = self.parser.get(request)
        if presented is None:
            return None  # NotAuthenticated follows, through the permission check
        try:
            key = (
                ShopApiKey.objects.get_usable_keys()
                .select_related("shop", "created_by")
                .get(prefix=presented.partition(".")[0])
            )
        except ShopApiKey.DoesNotExist:
            key = None
        if key is None or not key.is_valid(presented) or key.has_expired:
            raise exceptions.AuthenticationFailed(_("Unknown or revoked API key."))
        touch(key, timezone.now())
        return key.created_by, key

    def authenticate_header(self, request) -> str:
        return self.keyword


class KeyRolePermission(permissions.BasePermission):
    """Any key reads; only an agent key writes (a viewer key writing is `forbidden`)."""

    def has_permission(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ShopApiKey):
            raise exceptions.NotAuthenticated(_("Send an API key: Authorization: Api-Key <key>."))
        return request.method in permissions.SAFE_METHODS or key.role == KeyRole.AGENT


def shop_of(request):
    """The one shop a request may see: every queryset of a view is filtered by it."""
    return request.auth.shop
