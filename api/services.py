"""Writes of the API's own tables: keys created and revoked by a shop's owner, and the call log."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from pddadmin.shops.models import Role, Shop
from pddadmin.shops.selectors import role_in

from .models import ApiCall, KeyRole, ShopApiKey


def _require_owner(user, shop_id: int) -> None:
    if role_in(user, shop_id) != Role.OWNER:
        raise PermissionDenied("only the shop's owner manages its API keys")


def api_key_create(*, shop: Shop, role: str, name: str, created_by) -> tuple[ShopApiKey, str]:
    """A new key of `shop` with `role`; returns the row and the key itself, which is stored only
    as a hash and so can be shown this once."""
    _require_owner(created_by, shop.pk)
    if role not in KeyRole.values:
        raise ValueError(f"a key's role is agent or viewer, not {role}")
    return ShopApiKey.objects.create_key(shop=shop, role=role, name=name, created_by=created_by)


def api_key_revoke(*, key: ShopApiKey, revoked_by, at: dt.datetime | None = None) -> bool:
    """Revoke `key` for good; False when it was already revoked (the first revocation stands)."""
    _require_owner(revoked_by, key.shop_id)
    with transaction.atomic():
        done = ShopApiKey.objects.filter(pk=key.pk, revoked=False).update(
            revoked=True, revoked_at=at or timezone.now(), revoked_by=revoked_by
        )
    key.refresh_from_db()
    return done == 1


def api_call_log(
    *, key: ShopApiKey, method: str, path: str, status: int, idempotency_key: str, at: dt.datetime, duration_ms: float
) -> None:
    ApiCall.objects.create(
        key=key,
        method=method[:10],
        path=path[:300],
        status=status,
        idempotency_key=idempotency_key[:255],
        at=at,
        duration_ms=duration_ms,
    )
