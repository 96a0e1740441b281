"""Buyer messages and merchant replies (SPEC §7.1, §7.2, §8): one implementation for the feed, the
back-office and the open API.

Every write locks the conversation's row first: it is the lock of the conversation's messages, for
these services and for the late-reply job alike, so a reply and the job never interleave on one
conversation. Neither service moves money, so neither applies the shop's automatic charges first
(SPEC §6.1); what a late reply could change is fixed instead by the rule that nothing at or before
a recorded violation's due can be added to its conversation.
"""

import datetime as dt
import uuid
from collections.abc import Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from customerservice.content_rules import Attachment, Breach, NotAnImage, check_reply
from pddadmin.feed.events import quote
from pddadmin.shops.models import Order, Shop
from pddadmin.shops.selectors import handles_cases
from pddadmin.timefmt import shown

from ..models import REPLY_WITHIN, TEXT_LIMIT, Conversation, Direction, Message


class ReplyRefused(ValidationError):
    """A reply that breaks a rule of SPEC §7.2; `breach` says which rule and which part."""

    def __init__(self, breach: Breach):
        self.breach = breach
        super().__init__(
            _("reply refused, rule %(rule)s (%(explanation)s): %(part)s")
            % {"rule": breach.rule, "explanation": breach.message, "part": quote(breach.part)},
            code="rule_broken",
        )


def _text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError(_("a message needs a text"))
    if len(text) > TEXT_LIMIT:
        raise ValidationError(
            _("the text is longer than %(limit)s characters (%(length)s)") % {"limit": TEXT_LIMIT, "length": len(text)}
        )
    return text


def _check_new_id(platform_id: str) -> None:
    # A second writer of the same id meanwhile is stopped by the unique constraint.
    if Message.objects.filter(platform_id=platform_id).exists():
        raise ValidationError(_("message %(id)s already exists") % {"id": platform_id})


def _conversation(*, shop: Shop, buyer: str, at: dt.datetime) -> Conversation:
    """The shop's conversation with the buyer, opened on its first message, locked, and checked
    for the stale rule (SPEC §8) against `at`."""
    conversation, _created = Conversation.objects.get_or_create(
        shop=shop, buyer=buyer, defaults={"last_message_at": at}
    )
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if at < conversation.last_message_at:
        raise ValidationError(
            _("message at %(at)s is older than the last message of the conversation of shop %(shop)s with %(buyer)s "
              "(%(last)s)")
            % {"at": shown(at, seconds=True), "shop": shop.platform_id, "buyer": buyer,
               "last": shown(conversation.last_message_at, seconds=True)}
        )  # fmt: skip
    if conversation.last_violation_at is not None and at <= conversation.last_violation_at:
        raise ValidationError(
            _("message at %(at)s is not after the late-reply violation of the conversation of shop %(shop)s with "
              "%(buyer)s, due at %(due)s: what happened by then is settled")
            % {"at": shown(at, seconds=True), "shop": shop.platform_id, "buyer": buyer,
               "due": shown(conversation.last_violation_at, seconds=True)}
        )  # fmt: skip
    return conversation


def message_receive(
    *,
    platform_id: str,
    shop: Shop,
    buyer: str,
    text: str,
    at: dt.datetime,
    order: Order | None = None,
    source: str = "feed",
) -> Message:
    """A buyer's message (SPEC §7.1): due for a reply 48 h later."""
    text = _text(text)
    if order is not None and (order.shop_id != shop.pk or order.buyer != buyer):
        raise ValidationError(
            _("order %(order)s is not an order of shop %(shop)s and buyer %(buyer)s")
            % {"order": order.platform_id, "shop": shop.platform_id, "buyer": buyer}
        )
    with transaction.atomic():
        _check_new_id(platform_id)
        conversation = _conversation(shop=shop, buyer=buyer, at=at)
        message = Message.objects.create(
            platform_id=platform_id,
            conversation=conversation,
            direction=Direction.RECEIVED,
            text=text,
            order=order,
            at=at,
            source=source,
            reply_due_at=at + REPLY_WITHIN,
        )
        conversation.last_message_at = at
        if conversation.reply_due_at is None:  # the oldest unanswered message keeps its clock
            conversation.reply_due_at = message.reply_due_at
        conversation.save(update_fields=["last_message_at", "reply_due_at"])
    return message


def reply_check(text: str, images: Sequence[Attachment] = ()) -> None:
    """Raise ReplyRefused when the reply breaks a rule of SPEC §7.2 (a ValidationError when an
    attachment is not an image); the reply form may ask before it sends."""
    try:
        breach = check_reply(text, images)
    except NotAnImage as exc:
        raise ValidationError(str(exc), code="not_an_image") from None
    if breach is not None:
        raise ReplyRefused(breach)


def message_reply(
    *,
    shop: Shop,
    buyer: str,
    text: str,
    at: dt.datetime,
    images: Sequence[Attachment] = (),
    actor=None,
    platform_id: str | None = None,
    source: str = "feed",
) -> Message:
    """A merchant's reply (SPEC §7.1): it answers every buyer message of the conversation still
    unanswered (all received at or before `at`, by the stale rule). Checked against SPEC §7.2
    first: a refused reply raises ReplyRefused and writes nothing.

    `actor` None is the platform feed (the merchant's customer-service tool); a user must be the
    shop's owner or agent. Without a `platform_id` (the back-office) the reply gets a generated one.
    """
    if actor is not None and not handles_cases(actor, shop.pk):
        raise PermissionDenied(_("only the shop's owner or agents may reply to buyers"))
    text = _text(text)
    reply_check(text, images)
    platform_id = platform_id or f"reply:{uuid.uuid4().hex}"
    with transaction.atomic():
        _check_new_id(platform_id)
        conversation = _conversation(shop=shop, buyer=buyer, at=at)
        reply = Message.objects.create(
            platform_id=platform_id,
            conversation=conversation,
            direction=Direction.REPLIED,
            text=text,
            at=at,
            source=source,
            author=actor,
        )
        Message.objects.filter(
            conversation=conversation, reply_due_at__isnull=False, answered_at__isnull=True, at__lte=at
        ).update(answered_at=at, answered_by=reply)
        conversation.last_message_at = at
        conversation.reply_due_at = None
        conversation.save(update_fields=["last_message_at", "reply_due_at"])
    return reply
