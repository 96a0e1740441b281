"""How the money pages write an amount: "¥1,234.50", "-¥100.00" (SPEC: CNY, two places)."""

from decimal import Decimal

from django import template

from pddadmin.moneyfmt import yuan

register = template.Library()


# One way to write an amount, shared with the admin's columns (pddadmin.moneyfmt).
register.filter("yuan", yuan)


@register.filter
def plain(value: Decimal | None) -> str:
    """The amount as the exports write it ("1234.50"), for data attributes."""
    return "" if value is None or value == "" else f"{Decimal(value):.2f}"


@register.filter
def negated(value: Decimal | None) -> Decimal | None:
    """Arrears are kept as a negative balance; what is owed is its negation."""
    return None if value is None or value == "" else -Decimal(value)
