"""Conversations between a shop and a buyer, their messages, and late-reply violations (SPEC §7.1).

A buyer message is due for a reply 48 h after it was received; a merchant reply at T answers every
buyer message of the conversation still unanswered (they were all received at or before T: a
message older than the conversation's last one is refused). A message not answered by its reply
due, and not covered by an earlier violation, starts a late-reply violation, due and stamped at
that reply due; the violation covers every message of the conversation received by then and not
answered by then. Whether a message is late is read from when it was received and when it was
answered, never from "unanswered now", so a late reply never undoes a violation and the job finds
the same violations whenever it runs.
"""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from compensation.models import Charge
from pddadmin.append_only import AppendOnlyModel
from pddadmin.shops.models import MONEY, Order, Shop

REPLY_WITHIN = dt.timedelta(hours=48)
TEXT_LIMIT = 2000
# SPEC §7.1: ¥100 for a shop's first late-reply violation of a calendar year, ¥200 for the second,
# ¥300 for the third and every further one (decided there: the seed stops at the third).
FINE_LADDER = (Decimal("100.00"), Decimal("200.00"), Decimal("300.00"))


def fine_for(rank: int) -> Decimal:
    """The fine of a shop's `rank`-th late-reply violation of a year (rank counts from 1)."""
    return FINE_LADDER[min(rank, len(FINE_LADDER)) - 1]


def fine_year(moment: dt.datetime) -> int:
    """The calendar year (Asia/Shanghai) a violation due at `moment` counts in."""
    return moment.astimezone(ZoneInfo(settings.TIME_ZONE)).year


class Direction(models.TextChoices):
    RECEIVED = "received", _("buyer message")
    REPLIED = "replied", _("merchant reply")


class Conversation(models.Model):
    """A shop and a buyer (SPEC §7.1). Its row is the lock of its messages: every writer of them
    (receiving, replying, the late-reply job) locks it first."""

    # No index of its own: the unique (shop, buyer) constraint starts with it.
    shop = models.ForeignKey(
        Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="conversations", db_index=False
    )
    buyer = models.CharField(_("buyer id"), max_length=64)
    # The stale rule (SPEC §8): a message event older than the conversation's last message is refused.
    last_message_at = models.DateTimeField(_("last message at"))
    # Reply due of the oldest unanswered buyer message; null when nothing waits. Kept by the two
    # writers of messages, so the waiting list (most urgent first) reads one small index.
    reply_due_at = models.DateTimeField(_("reply due at"), null=True, blank=True)
    # Due time of the conversation's last late-reply violation. The violation is a fact fixed by
    # the messages at or before it: a message at or before it can no longer be added.
    last_violation_at = models.DateTimeField(_("last violation due at"), null=True, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-last_message_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["shop", "buyer"], name="one_conversation_per_shop_buyer")]
        indexes = [
            models.Index(
                fields=["shop", "reply_due_at"],
                condition=Q(reply_due_at__isnull=False),
                name="conversation_waiting",
            ),
            models.Index(fields=["shop", "-last_message_at"], name="conversation_shop_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.shop.platform_id} · {self.buyer}"


# The buyer messages the late-reply job still has to judge: not answered in time and not covered
# by a violation yet. Answered in time or covered, a message leaves this (partial index) set.
LATE_REPLY_WATCH = (
    Q(reply_due_at__isnull=False)
    & Q(violation__isnull=True)
    & (Q(answered_at__isnull=True) | Q(answered_at__gt=F("reply_due_at")))
)


class Message(models.Model):
    """A buyer message (received) or a merchant reply (replied)."""

    # Unique across both kinds (SPEC §8), through Meta.constraints (no unused LIKE index on
    # PostgreSQL). Back-office replies get a generated one ("reply:…").
    platform_id = models.CharField(_("message id"), max_length=64)
    # No index of its own: the thread index starts with it.
    conversation = models.ForeignKey(
        Conversation, verbose_name=_("conversation"), on_delete=models.PROTECT, related_name="messages", db_index=False
    )
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    text = models.CharField(_("text"), max_length=TEXT_LIMIT)
    # The order the buyer writes about: an order of the conversation's shop and buyer.
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    at = models.DateTimeField(_("time"))
    source = models.CharField(_("source"), max_length=16)  # "feed", "admin", "api"
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # Buyer messages only: received + 48 h; when and by which reply it was answered; the
    # late-reply violation that covers it.
    reply_due_at = models.DateTimeField(_("reply due at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    answered_by = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="answered",
        verbose_name=_("answered by"),
        db_index=False,
    )
    violation = models.ForeignKey(
        "LateReplyViolation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="covered",
        verbose_name=_("late-reply violation"),
    )

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["conversation", "at", "id"], name="message_thread"),
            models.Index(fields=["reply_due_at"], condition=LATE_REPLY_WATCH, name="message_late_reply_watch"),
            # The late-reply job reads the watch of the conversations of the shops it holds: this
            # small index, conversation by conversation, not the whole watch (`LateReply.due`).
            models.Index(
                fields=["conversation", "reply_due_at"],
                condition=LATE_REPLY_WATCH,
                name="message_watch_by_conversation",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["platform_id"], name="message_platform_id_unique"),
            models.CheckConstraint(
                condition=Q(direction=Direction.RECEIVED, reply_due_at__isnull=False)
                | Q(
                    direction=Direction.REPLIED,
                    reply_due_at__isnull=True,
                    answered_at__isnull=True,
                    answered_by__isnull=True,
                    violation__isnull=True,
                ),
                name="message_reply_fields_only_for_buyer_messages",
            ),
        ]

    def __str__(self) -> str:
        return self.platform_id


class LateReplyViolation(AppendOnlyModel):
    """回复超时 (SPEC §7.1): started by the first message of a conversation not answered by its
    reply due, stamped at that due; fined by its rank among the shop's violations of the calendar
    year (Asia/Shanghai), through a charge paid to the platform."""

    conversation = models.ForeignKey(
        Conversation, verbose_name=_("conversation"), on_delete=models.PROTECT, related_name="violations"
    )
    shop = models.ForeignKey(
        Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="late_reply_violations", db_index=False
    )
    message = models.OneToOneField(
        Message, on_delete=models.PROTECT, related_name="started_violation", verbose_name=_("starting message")
    )
    due_at = models.DateTimeField(_("due at"))
    year = models.PositiveSmallIntegerField(_("year"))
    rank = models.PositiveIntegerField(_("rank in the year"))
    fine = models.DecimalField(_("fine"), **MONEY)
    charge = models.OneToOneField(
        Charge, verbose_name=_("charge"), on_delete=models.PROTECT, related_name="late_reply_violation"
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("late-reply violation")
        verbose_name_plural = _("late-reply violations")
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["shop", "due_at"], name="late_reply_shop_due")]
        constraints = [
            # One fine per rank: two workers can never both charge a shop's first of a year.
            models.UniqueConstraint(fields=["shop", "year", "rank"], name="one_late_reply_per_rank"),
            models.CheckConstraint(condition=Q(rank__gte=1, fine__gt=0), name="late_reply_rank_and_fine"),
        ]

    def __str__(self) -> str:
        return f"{self.year} #{self.rank}"
