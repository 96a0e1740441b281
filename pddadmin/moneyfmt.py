"""How an amount reads to a person: "¥1,234.50", "-¥100.00" (CNY, two places, thousands
separators), the same on every page and in every list. Files for programs (SPEC §9 exports, the
API) keep plain "1234.50".
"""

from decimal import Decimal

from django.contrib import admin


def yuan(value: Decimal | str | None) -> str:
    if value is None or value == "":
        return "—"
    value = Decimal(value)
    sign = "-" if value < 0 else ""
    return f"{sign}¥{abs(value):,.2f}"


def money_column(model, field: str):
    """A changelist column showing `model`'s money field `field` as yuan(), under the field's own
    label, sortable by it where the admin lets it sort."""

    @admin.display(description=model._meta.get_field(field).verbose_name, ordering=field)
    def column(obj):
        return yuan(getattr(obj, field))

    column.__name__ = f"{field}_yuan"
    return column
