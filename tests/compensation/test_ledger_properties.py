"""Random histories of reports, rulings, balance credits and payout runs keep the books exact."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compensation.models import Account, Charge, CreditKind, ViolationOrder, ViolationState
from compensation.services import credits, violations
from compensation.services.ledger import ledger_differences
from compensation.services.payouts import payouts_issue

from .conftest import T0, balances, open_shop, warranty_orders

pytestmark = pytest.mark.django_db

money = st.integers(min_value=0, max_value=40_000).map(lambda cents: Decimal(cents) / 100)
step = st.one_of(
    st.tuples(st.just("report"), st.integers(0, 1), st.lists(st.integers(0, 5), min_size=1, max_size=4),
              st.sampled_from(["refused_service", "extra_fee"])),
    st.tuples(st.just("rule"), st.integers(0, 20), st.booleans()),
    st.tuples(st.just("credit"), st.integers(0, 1), money.filter(lambda m: m > 0)),
    st.tuples(st.just("pay")),
)


class Rollback(Exception):
    pass


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(opening=st.tuples(money, money, money, money), steps=st.lists(step, max_size=14))
def test_random_histories_keep_balances_equal_to_entries_and_pay_once(db, opening, steps):
    try:
        with transaction.atomic():
            run_history(opening, steps)
            raise Rollback  # each example starts from an empty database
    except Rollback:
        pass


def run_history(opening, steps):
    shops = [open_shop(deposit=str(opening[0]), balance=str(opening[1])),
             open_shop(deposit=str(opening[2]), balance=str(opening[3]))]
    orders = [warranty_orders(shop, 6) for shop in shops]
    reported, clock, runs = [], T0 + dt.timedelta(days=1), 0
    for action, *args in steps:
        clock += dt.timedelta(minutes=7)
        if action == "report":
            shop_index, picks, reason = args
            chosen = list(dict.fromkeys(orders[shop_index][i] for i in picks))
            try:
                with transaction.atomic():
                    reported.append(violations.violation_report(
                        platform_id=f"V{len(reported)}-{clock:%H%M}", orders=chosen, reason=reason, at=clock
                    ))
            except ValidationError:
                pass  # a duplicate (order, reason): refused, nothing written
        elif action == "rule" and reported:
            violation = reported[args[0] % len(reported)]
            try:
                with transaction.atomic():
                    violations.violation_rule(violation=violation, breach=args[1], note="ruled", at=clock)
            except ValidationError:
                pass  # already ruled
        elif action == "credit":
            credits.shop_credit(
                shop=shops[args[0]], kind=CreditKind.SETTLEMENT, amount=args[1], at=clock, source="test"
            )
        elif action == "pay":
            payouts_issue(now=clock)
            runs += 1
        assert ledger_differences() == []
    payouts_issue(now=clock + dt.timedelta(hours=1))

    assert ledger_differences() == []
    upheld_lines = ViolationOrder.objects.filter(violation__state=ViolationState.UPHELD).count()
    assert Charge.objects.count() == upheld_lines
    assert not Charge.objects.values("violation", "order").annotate(n=Count("id")).filter(n__gt=1).exists()
    for shop in shops:
        accounts = balances(shop)
        assert accounts["deposit"] >= 0 and accounts["balance"] >= 0 and accounts["arrears"] <= 0
        # Arrears only exist when nothing was left to take from.
        if accounts["arrears"] < 0:
            assert accounts["deposit"] == 0 and accounts["balance"] == 0
        paid = Charge.objects.filter(shop=shop).aggregate(d=Sum("from_deposit"), b=Sum("from_balance"),
                                                          a=Sum("arrears"))
        assert (paid["d"] or 0) <= opening[0 if shop == shops[0] else 2]
    liability = Account.objects.filter(shop=None, kind="coupon_liability").values_list("balance", flat=True).first()
    assert (liability or 0) == Decimal("100.00") * Charge.objects.count()
