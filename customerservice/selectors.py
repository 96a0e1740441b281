"""Reads for the customer-service workbench (SPEC §7.1), scoped to what the user may see."""

import datetime as dt
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, DateTimeField, DurationField, ExpressionWrapper, F, Q, QuerySet, Value

from pddadmin.shops.models import Shop
from pddadmin.shops.selectors import visible_to

from .models import Conversation, Direction, LateReplyViolation, Message, fine_for, fine_year

AT_RISK_WITHIN = dt.timedelta(hours=6)  # the workbench shows these in red, the dashboard counts them


def conversations_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Conversation]:
    return visible_to(Conversation.objects.select_related("shop"), user=user)


def waiting_conversations(conversations: QuerySet[Conversation], *, now: dt.datetime) -> QuerySet[Conversation]:
    """The conversations with a buyer message still unanswered, most urgent first, each with
    `time_left` (its oldest unanswered message's reply due − now; negative once overdue) and
    `unanswered` (how many buyer messages wait)."""
    return (
        conversations.filter(reply_due_at__isnull=False)
        .annotate(
            time_left=ExpressionWrapper(
                F("reply_due_at") - Value(now, output_field=DateTimeField()), output_field=DurationField()
            ),
            unanswered=Count(
                "messages", filter=Q(messages__direction=Direction.RECEIVED, messages__answered_at__isnull=True)
            ),
        )
        .order_by("reply_due_at", "pk")
    )


def at_risk(
    conversations: QuerySet[Conversation], *, now: dt.datetime, within: dt.timedelta = AT_RISK_WITHIN
) -> QuerySet[Conversation]:
    """Waiting conversations whose reply falls due within `within` from now, or is overdue."""
    return conversations.filter(reply_due_at__isnull=False, reply_due_at__lte=now + within)


def thread(conversation: Conversation) -> QuerySet[Message]:
    """The conversation's messages in time order, each with the reply that answered it and the
    violation that covers it."""
    return (
        Message.objects.filter(conversation=conversation)
        .select_related("answered_by", "violation", "order", "author")
        .order_by("at", "id")
    )


def violations_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[LateReplyViolation]:
    return visible_to(LateReplyViolation.objects.select_related("shop", "conversation", "message", "charge"), user=user)


def violations_of_year(*, shop: Shop, year: int) -> QuerySet[LateReplyViolation]:
    """The shop's late-reply violations of a calendar year (Asia/Shanghai), by rank, each with how
    many messages it covers."""
    return (
        LateReplyViolation.objects.filter(shop=shop, year=year)
        .select_related("conversation", "message", "charge")
        .annotate(covered_count=Count("covered"))
        .order_by("rank")
    )


def next_fine(*, shop: Shop, now: dt.datetime) -> Decimal:
    """What the shop's next late-reply violation would cost if it fell due this year (the year of
    `now`, Asia/Shanghai): after the violations recorded so far."""
    recorded = LateReplyViolation.objects.filter(shop=shop, year=fine_year(now)).count()
    return fine_for(recorded + 1)
