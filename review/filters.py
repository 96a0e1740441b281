"""Filters of the intervention queue. The same filterset narrows the page, the export and "Next case"."""

import datetime as dt

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftersales.models import Kind, Reason

AGE_CHOICES = [
    ("lt24", _("under 24 h")),
    ("24to48", _("24–48 h")),
    ("gt48", _("over 48 h (past SLA)")),
    ("gt168", _("over 7 days")),
]
# Bounds in hours (lower inclusive, upper exclusive) of each age choice; None = unbounded.
AGE_BOUNDS: dict[str, tuple[int | None, int | None]] = {
    "lt24": (None, 24),
    "24to48": (24, 48),
    "gt48": (48, None),
    "gt168": (168, None),
}

CLAIM_CHOICES = [
    ("mine", _("claimed by me")),
    ("unclaimed", _("unclaimed")),
    ("others", _("claimed by others")),
]


class QueueFilter(django_filters.FilterSet):
    # A text box rather than a select: the platform has far too many shops for a drop-down. It
    # suggests the shops of the queue (a <datalist>, queue_shops) and takes a shop id or a name.
    shop = django_filters.CharFilter(
        label=_("shop id or name"),
        method="filter_shop",
        widget=forms.TextInput(attrs={"list": "queue-shops", "autocomplete": "off"}),
    )
    # "All" rather than django-filter's "---------": Django's catalogue says 全部.
    kind = django_filters.ChoiceFilter(label=_("kind"), choices=Kind.choices, empty_label=_("All"))
    reason = django_filters.ChoiceFilter(label=_("reason"), choices=Reason.choices, empty_label=_("All"))
    age = django_filters.ChoiceFilter(
        label=_("waiting"), choices=AGE_CHOICES, method="filter_age", empty_label=_("All")
    )
    claim = django_filters.ChoiceFilter(
        label=_("claim"), choices=CLAIM_CHOICES, method="filter_claim", empty_label=_("All")
    )

    def __init__(self, *args, now: dt.datetime | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now or timezone.now()

    def filter_shop(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(shop__platform_id=value) | Q(shop__name__icontains=value))

    def filter_age(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Waiting ≥ N h ⇔ escalated at or before now − N h: a range on the indexed column.
        low, high = AGE_BOUNDS[value]
        if low is not None:
            queryset = queryset.filter(escalated_at__lte=self.now - dt.timedelta(hours=low))
        if high is not None:
            queryset = queryset.filter(escalated_at__gt=self.now - dt.timedelta(hours=high))
        return queryset

    def filter_claim(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        user = self.request.user if self.request is not None else None
        if value == "mine":
            return queryset.filter(claimed_by_id=getattr(user, "pk", None))
        if value == "unclaimed":
            return queryset.filter(claimed_by__isnull=True)
        return queryset.filter(claimed_by__isnull=False).exclude(claimed_by_id=getattr(user, "pk", None))

    def as_q(self) -> Q:
        """The filters as a condition on cases, for "Next case" (which claims outside this queryset)."""
        return Q(pk__in=self.qs.order_by().values("pk"))
