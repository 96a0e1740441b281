"""Return addresses (SPEC §3): a shop's address book, one default once it has any.

The shop row lock serialises every change to a shop's addresses, so two staff changing the
default at once cannot leave zero or two defaults (the partial unique index backs this up).
The shop's other after-sales setting, the hotline, is the shop's own: pddadmin.shops.services.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pddadmin.shops.models import Shop
from pddadmin.shops.services import shop_lock
from pddadmin.shops.validators import normalize_phone, validate_phone

from ..models import ReturnAddress

ADDRESS_FIELDS = ("receiver", "phone", "province", "city", "district", "detail")


def split_region(region: str) -> tuple[str, str, str]:
    parts = [p.strip() for p in (region or "").split("/")]
    if len(parts) != 3 or not all(parts):
        raise ValidationError(
            _("region must be “province/city/district”, e.g. 浙江省/杭州市/西湖区; got “%(region)s”")
            % {"region": region}
        )
    return parts[0], parts[1], parts[2]


def _clean_address(fields: dict) -> dict:
    missing = [name for name in ADDRESS_FIELDS if not str(fields.get(name) or "").strip()]
    if missing:
        raise ValidationError(_("return address lacks: %(fields)s") % {"fields": ", ".join(missing)})
    cleaned = {name: str(fields[name]).strip() for name in ADDRESS_FIELDS}
    validate_phone(cleaned["phone"])
    cleaned["phone"] = normalize_phone(cleaned["phone"])
    return cleaned


@transaction.atomic
def address_add(
    *,
    shop: Shop,
    receiver: str,
    phone: str,
    province: str,
    city: str,
    district: str,
    detail: str,
    default: bool = False,
    platform_id: str | None = None,
    at: dt.datetime | None = None,
) -> ReturnAddress:
    at = at or timezone.now()
    fields = _clean_address(
        dict(receiver=receiver, phone=phone, province=province, city=city, district=district, detail=detail)
    )
    shop = shop_lock(shop)
    if platform_id and ReturnAddress.objects.filter(platform_id=platform_id).exists():
        raise ValidationError(_("return address %(id)s already exists") % {"id": platform_id})
    # The first address of a shop is its default (SPEC §3: once it has any, exactly one is).
    first = not shop.return_addresses.exists()
    if default and not first:
        shop.return_addresses.filter(is_default=True).update(is_default=False, changed_at=at)
    return ReturnAddress.objects.create(
        shop=shop, platform_id=platform_id or None, is_default=default or first, created_at=at, changed_at=at, **fields
    )


@transaction.atomic
def address_update(*, address: ReturnAddress, at: dt.datetime | None = None, **changes: str) -> ReturnAddress:
    """Edit an address. Cases keep the copy taken when they were agreed, so edits never reach them."""
    unknown = set(changes) - set(ADDRESS_FIELDS)
    if unknown:
        raise TypeError(f"not address fields: {sorted(unknown)}")
    shop_lock(address.shop)
    address = ReturnAddress.objects.get(pk=address.pk)
    current = {name: getattr(address, name) for name in ADDRESS_FIELDS}
    fields = _clean_address({**current, **changes})
    for name, value in fields.items():
        setattr(address, name, value)
    address.changed_at = at or timezone.now()
    address.save(update_fields=[*ADDRESS_FIELDS, "changed_at"])
    return address


@transaction.atomic
def address_set_default(*, address: ReturnAddress, at: dt.datetime | None = None) -> ReturnAddress:
    at = at or timezone.now()
    shop_lock(address.shop)
    ReturnAddress.objects.filter(shop_id=address.shop_id, is_default=True).exclude(pk=address.pk).update(
        is_default=False, changed_at=at
    )
    ReturnAddress.objects.filter(pk=address.pk).update(is_default=True, changed_at=at)
    address.refresh_from_db()
    return address


@transaction.atomic
def address_delete(*, address: ReturnAddress) -> None:
    shop_lock(address.shop)
    # Re-read under the lock: another staff member may have made it the default meanwhile.
    current = ReturnAddress.objects.filter(pk=address.pk).first()
    if current is None:
        return
    if current.is_default:
        raise ValidationError(
            _("“%(address)s” is the default return address and cannot be deleted; choose another default first.")
            % {"address": current}
        )
    current.delete()
