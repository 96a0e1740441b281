"""Feed events owned by the after-sales app (SPEC §8)."""

from pddadmin.feed.events import Event
from pddadmin.feed.registry import handles
from pddadmin.shops.models import Shop

from .services import settings as settings_services


@handles("address.added")
def address_added(event: Event) -> None:
    shop = event.ref(Shop, "shop")
    event.check_not_older(shop, f"shop {shop.platform_id}", field="opened_at")
    province, city, district = settings_services.split_region(event.text("region"))
    settings_services.address_add(
        shop=shop,
        platform_id=event.text("address", max_length=64),
        receiver=event.text("receiver", max_length=100),
        phone=event.text("phone", max_length=32),
        province=province,
        city=city,
        district=district,
        detail=event.text("detail", max_length=255),
        default=event.flag("default", False),
        at=event.at,
    )
