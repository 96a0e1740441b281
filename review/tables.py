"""The intervention queue table and its export (CSV/XLSX, injection-safe)."""

import django_tables2 as tables
from django.db.models import QuerySet
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from aftersales.models import AfterSalesCase
from pddadmin.moneyfmt import yuan
from pddadmin.shops.paginator import LargeTablePaginator
from pddadmin.shops.templatetags.platform_ids import link_text

from .selectors import is_overdue, waiting_hours


def _sla_class(record) -> str:
    return "pdd-sla pdd-overdue" if is_overdue(record.waiting) else "pdd-sla"


class QueueTable(tables.Table):
    # A blank id (stored before the feed checked ids) still gets a visible link.
    platform_id = tables.Column(
        verbose_name=_("case"), linkify=("review:case", {"pk": tables.A("pk")}), empty_values=()
    )
    order = tables.Column(verbose_name=_("order"), accessor="order__platform_id", order_by=("order__platform_id",))
    # Groups a shop's cases together, oldest first: (shop, state, …) index order, never a sort of the
    # whole queue by a joined name.
    shop = tables.Column(verbose_name=_("shop"), accessor="shop__name", order_by=("shop_id", "escalated_at", "id"))
    kind = tables.Column(verbose_name=_("kind"))
    reason = tables.Column(verbose_name=_("reason"))
    amount = tables.Column(verbose_name=_("amount"), attrs={"td": {"class": "pdd-num"}})
    escalated_at = tables.Column(verbose_name=_("escalated at"))
    # Longest waiting first when sorted descending: SLA order is the reverse of escalation order.
    sla = tables.Column(
        verbose_name=_("SLA (hours)"),
        accessor="waiting",
        order_by=("-escalated_at", "-id"),
        attrs={"td": {"class": _sla_class}},
    )
    claimed_by = tables.Column(
        verbose_name=_("claimed by"),
        accessor="claimed_by__username",
        order_by=("claimed_by__username",),
        default="",
    )
    # Rendered in Python, not a TemplateColumn: a template per row is most of a page's cost.
    actions = tables.Column(
        verbose_name=_("actions"), accessor="pk", orderable=False, exclude_from_export=True, empty_values=()
    )

    class Meta:
        model = AfterSalesCase
        fields = ()
        sequence = ("platform_id", "order", "shop", "kind", "reason", "amount", "escalated_at", "sla", "claimed_by")
        order_by = ("escalated_at",)
        attrs = {"id": "review-queue", "class": "pdd-queue"}
        empty_text = _("No case is waiting for intervention.")
        template_name = "review/_table.html"

    def render_platform_id(self, value):
        return link_text(value)

    def value_platform_id(self, value):
        return value

    def render_escalated_at(self, value):
        return date_format(timezone.localtime(value), "Y-m-d H:i")

    def value_escalated_at(self, value):
        return timezone.localtime(value).isoformat()

    def render_sla(self, value):
        hours = waiting_hours(value)
        return "—" if hours is None else f"{hours:.1f}"

    def value_sla(self, value):
        return self.render_sla(value)

    def render_shop(self, value, record):
        return format_html("{} <span class='pdd-muted'>{}</span>", value, record.shop.platform_id)

    def value_shop(self, value, record):
        return f"{value} ({record.shop.platform_id})"

    def render_amount(self, value):
        return yuan(value)

    def value_amount(self, value):
        return f"{value:.2f}"

    def render_actions(self, record):
        user = getattr(self.request, "user", None)
        if record.claimed_by_id is None:
            name, label = "review:claim", gettext("Claim")
        elif user is not None and record.claimed_by_id == user.pk:
            name, label = "review:release", gettext("Release")
        else:
            return ""
        return format_html(
            '<form method="post" action="{}"><input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<input type="hidden" name="next" value="{}"><input type="submit" class="button" value="{}"></form>',
            reverse(name, args=[record.pk]),
            self._csrf_token,
            self._here,
            label,
        )

    def body_html(self) -> str:
        """The page's rows as django-tables2's own template writes them (`<tr>` with the row's attrs,
        a `<td>` with the column's attrs per cell, the cell escaped), in Python, the cells of the
        columns above through `_fast_cells`: django-tables2's per-cell machinery (the template's
        tags, a signature inspection and a choice-list rebuild per cell) was most of the page's
        Python time (bench/pages.py). A column `_fast_cells` does not know is rendered as
        django-tables2 renders it."""
        columns = list(self.columns)
        # td attrs are the same on every row unless a value in them is computed from the row.
        fixed_td = {
            c.name: c.attrs["td"].as_html()
            for c in columns
            if not any(callable(v) for v in c.column.attrs.get("td", {}).values())
        }
        fast = self._fast_cells()
        rows = []
        for row in self.paginated_rows:
            cells = []
            for column in columns:
                if column.name in fast:
                    cell = fast[column.name](row.record, column)
                    column.current_value, column.current_record = cell, row.record  # as row.items() sets them
                else:
                    cell = row.get_cell(column.name)
                    column.current_value, column.current_record = cell, row.record
                td = fixed_td.get(column.name)
                cells.append((column.attrs["td"].as_html() if td is None else td, cell))
            rows.append(
                format_html("<tr {}>{}</tr>", row.attrs.as_html(), format_html_join("", "<td {}>{}</td>", cells))
            )
        return format_html_join("\n", "{}", ((row,) for row in rows))

    def _fast_cells(self) -> dict:
        """Column name → (record, bound column) → the cell, as django-tables2 computes it for these
        columns: the choice fields' labels (read once), a column's default for an empty value."""
        labels = {
            name: {value: str(label) for value, label in AfterSalesCase._meta.get_field(name).flatchoices}
            for name in ("kind", "reason")
        }

        def value_or_default(value, column, render=lambda value: value):
            return column.default if value in column.column.empty_values else render(value)

        return {
            "platform_id": lambda r, c: format_html(
                '<a href="{}">{}</a>',
                reverse("review:case", kwargs={"pk": r.pk}),
                self.render_platform_id(r.platform_id),
            ),
            "order": lambda r, c: value_or_default(r.order.platform_id, c),
            "shop": lambda r, c: value_or_default(r.shop.name, c, lambda v: self.render_shop(v, r)),
            "kind": lambda r, c: value_or_default(r.kind, c, lambda v: labels["kind"].get(v, v)),
            "reason": lambda r, c: value_or_default(r.reason, c, lambda v: labels["reason"].get(v, v)),
            "amount": lambda r, c: value_or_default(r.amount, c, self.render_amount),
            "escalated_at": lambda r, c: value_or_default(r.escalated_at, c, self.render_escalated_at),
            "sla": lambda r, c: value_or_default(r.waiting, c, self.render_sla),
            "claimed_by": lambda r, c: value_or_default(
                r.claimed_by.username if r.claimed_by_id is not None else None, c
            ),
            "actions": lambda r, c: self.render_actions(r),
        }

    @cached_property
    def _csrf_token(self) -> str:
        return get_token(self.request)  # once per page: each call masks the secret anew

    @cached_property
    def _here(self) -> str:
        return self.request.get_full_path()


class QueuePaginator(LargeTablePaginator):
    """The shop paginator's bounded count, for django-tables2.

    django-tables2 hands a paginator its BoundRows, whose len() is a full COUNT(*) over the
    queue; count the queryset underneath instead (exact up to 10,000 rows, estimated beyond).
    """

    @cached_property
    def count(self) -> int:
        queryset = getattr(getattr(self.object_list, "data", None), "data", None)
        if isinstance(queryset, QuerySet):
            return LargeTablePaginator(queryset, self.per_page).count
        return super().count
