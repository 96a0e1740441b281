"""Every append-only table refuses update and delete, on the queryset and on the instance, and the
rows its log belongs to cannot be deleted from under it (SPEC §2.3, §6.1: rows that explain)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import ProtectedError

from aftersales.models import AfterSalesCase, CaseTransition, Refund, State
from compensation.models import Charge, Credit, CreditKind, Entry, LedgerTransaction, Violation, ViolationLog
from compensation.services import credits
from compensation.services.payouts import payouts_issue
from pddadmin.append_only import AppendOnlyError, AppendOnlyModel
from tests.aftersales.helpers import case_in
from tests.compensation.conftest import T0, open_shop, upheld, warranty_orders

pytestmark = pytest.mark.django_db

APPEND_ONLY = [CaseTransition, Refund, ViolationLog, LedgerTransaction, Entry, Charge, Credit]


@pytest.fixture
def rows():
    """One of each: a refunded case (its log and refund), a paid violation (its log, ledger rows
    and charge) and a settlement (its credit), all made by the services."""
    case_in(State.REFUNDED)
    shop = open_shop(deposit="500.00")
    upheld(warranty_orders(shop))
    assert payouts_issue(now=T0 + dt.timedelta(days=3)).paid == 1
    credits.shop_credit(shop=shop, kind=CreditKind.SETTLEMENT, amount=Decimal("10.00"), at=T0 + dt.timedelta(days=4),
                        source="test")
    return {model: model.objects.order_by("pk").first() for model in APPEND_ONLY}


def test_every_table_that_explains_is_append_only():
    assert all(issubclass(model, AppendOnlyModel) for model in APPEND_ONLY)


@pytest.mark.parametrize("model", APPEND_ONLY, ids=lambda m: m.__name__)
def test_queryset_update_and_delete_are_refused(rows, model):
    before = list(model.objects.values())
    with pytest.raises(AppendOnlyError, match="append-only: update refused"):
        model.objects.update(pk=0)
    with pytest.raises(AppendOnlyError, match="append-only: update refused"):
        model.objects.filter(pk=rows[model].pk).update(pk=0)
    with pytest.raises(AppendOnlyError, match="append-only: update refused"):
        model.objects.bulk_update([rows[model]], fields=["pk"])
    with pytest.raises(AppendOnlyError, match="append-only: delete refused"):
        model.objects.all().delete()
    assert list(model.objects.values()) == before


@pytest.mark.parametrize("model", APPEND_ONLY, ids=lambda m: m.__name__)
def test_instance_save_and_delete_are_refused(rows, model):
    row = rows[model]
    with pytest.raises(AppendOnlyError, match="append-only: save of an existing row refused"):
        row.save()
    with pytest.raises(AppendOnlyError, match="append-only: delete refused"):
        row.delete()
    assert model.objects.filter(pk=row.pk).exists()


def test_related_managers_refuse_too(rows):
    case = rows[CaseTransition].case
    with pytest.raises(AppendOnlyError):
        case.transitions.all().delete()
    with pytest.raises(AppendOnlyError):
        case.transitions.update(note="rewritten")
    with pytest.raises(AppendOnlyError):
        rows[LedgerTransaction].entries.all().delete()


def test_the_parents_of_a_log_cannot_be_deleted_from_under_it(rows):
    # The case log used to go with its case (on_delete=CASCADE); the violation log with its violation.
    with pytest.raises(ProtectedError):
        AfterSalesCase.objects.filter(pk=rows[CaseTransition].case_id).delete()
    with pytest.raises(ProtectedError):
        Violation.objects.filter(pk=rows[ViolationLog].violation_id).delete()
    assert CaseTransition.objects.filter(case_id=rows[CaseTransition].case_id).exists()
    assert ViolationLog.objects.filter(violation_id=rows[ViolationLog].violation_id).exists()


def test_new_rows_are_still_written(rows):
    case = rows[CaseTransition].case
    added = CaseTransition.objects.create(
        case=case, transition="note", from_state=case.state, to_state=case.state, actor_kind="system",
        at=case.changed_at,
    )
    assert added.pk is not None and case.transitions.count() == 3
