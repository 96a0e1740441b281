"""Feed events for buyer messages and merchant replies (SPEC §8); each one calls a service.

The feed discovers this module in every process (`pddadmin.feed` autodiscovers feed_handlers), and
importing the services registers the late-reply source with the charge engine."""

from pddadmin.feed.events import Event, Rejected
from pddadmin.feed.registry import handles
from pddadmin.shops.models import Order, Shop

from .services import messages

BUYER_ID_LIMIT = 64


def _order(event: Event) -> Order | None:
    platform_id = event.platform_id("order", None)
    if platform_id is None:
        return None
    order = Order.objects.filter(platform_id=platform_id).first()
    if order is None:
        raise Rejected(f"unknown order {platform_id!r}")
    return order


@handles("message.received")
def message_received(event: Event) -> None:
    platform_id = event.platform_id("message")
    shop = event.ref(Shop, "shop")
    messages.message_receive(
        platform_id=platform_id,
        shop=shop,
        buyer=event.text("buyer", max_length=BUYER_ID_LIMIT),
        text=event.text("text", max_length=messages.TEXT_LIMIT),
        order=_order(event),
        at=event.at,
    )


@handles("message.replied")
def message_replied(event: Event) -> None:
    platform_id = event.platform_id("message")
    shop = event.ref(Shop, "shop")
    messages.message_reply(
        platform_id=platform_id,
        shop=shop,
        buyer=event.text("buyer", max_length=BUYER_ID_LIMIT),
        text=event.text("text", max_length=messages.TEXT_LIMIT),
        at=event.at,
    )
