"""After-sales settings services (SPEC §3): the return-address book and the missing-info flag."""


import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation

from aftersales.models import ReturnAddress
from aftersales.selectors import shop_info_missing, shops_with_info_missing
from aftersales.services import addresses as svc
from tests import factories
from tests.concurrency import errors_of, run_in_threads
from tests.conftest import at

ADDRESS = dict(receiver="张三", phone="0571-88886666", province="浙江省", city="杭州市", district="西湖区")


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def add(shop, detail, **extra):
    return svc.address_add(shop=shop, detail=detail, **{**ADDRESS, **extra})


def defaults(shop) -> list[str]:
    return list(ReturnAddress.objects.filter(shop=shop, is_default=True).values_list("detail", flat=True))


class TestReturnAddresses:
    def test_first_address_becomes_default(self, shop):
        first = add(shop, "1号")
        second = add(shop, "2号")
        assert first.is_default and not second.is_default
        assert defaults(shop) == ["1号"]

    def test_adding_a_new_default_moves_it(self, shop):
        add(shop, "1号")
        add(shop, "2号", default=True)
        assert defaults(shop) == ["2号"]

    def test_set_default_flips_and_keeps_exactly_one(self, shop, other_shop):
        first, second, third = add(shop, "1号"), add(shop, "2号"), add(shop, "3号")
        theirs = add(other_shop, "B1号")
        svc.address_set_default(address=third)
        assert defaults(shop) == ["3号"]
        svc.address_set_default(address=second)
        assert defaults(shop) == ["2号"]
        svc.address_set_default(address=second)  # again: nothing changes
        assert defaults(shop) == ["2号"]
        # Other shops' defaults are not touched.
        assert ReturnAddress.objects.get(pk=theirs.pk).is_default
        assert not ReturnAddress.objects.get(pk=first.pk).is_default

    def test_default_cannot_be_deleted(self, shop):
        first = add(shop, "1号")
        second = add(shop, "2号")
        with pytest.raises(ValidationError, match="is the default return address and cannot be deleted"):
            svc.address_delete(address=first)
        assert ReturnAddress.objects.filter(shop=shop).count() == 2
        svc.address_delete(address=second)
        assert list(ReturnAddress.objects.filter(shop=shop)) == [first]

    def test_deleting_an_address_that_became_default_meanwhile_is_refused(self, shop):
        add(shop, "1号")
        second = add(shop, "2号")
        stale = ReturnAddress.objects.get(pk=second.pk)
        svc.address_set_default(address=second)
        with pytest.raises(ValidationError, match="default"):
            svc.address_delete(address=stale)
        assert ReturnAddress.objects.filter(pk=second.pk).exists()

    def test_missing_fields_and_bad_phone_are_refused(self, shop):
        with pytest.raises(ValidationError, match="lacks: receiver, detail"):
            svc.address_add(shop=shop, **{**ADDRESS, "receiver": " "}, detail="")
        with pytest.raises(ValidationError, match="not a valid phone number"):
            add(shop, "1号", phone="12345")
        assert not ReturnAddress.objects.exists()

    def test_update_changes_fields_but_not_the_default(self, shop):
        first = add(shop, "1号")
        svc.address_update(address=first, receiver="李四", phone="13912345678", at=at("2026-02-01 10:00"))
        stored = ReturnAddress.objects.get(pk=first.pk)
        assert (stored.receiver, stored.phone, stored.is_default) == ("李四", "13912345678", True)
        with pytest.raises(ValidationError):
            svc.address_update(address=first, phone="0000")
        with pytest.raises(TypeError):
            svc.address_update(address=first, is_default=False)

    def test_duplicate_platform_id_is_refused(self, shop):
        add(shop, "1号", platform_id="A1")
        with pytest.raises(ValidationError, match="already exists"):
            add(shop, "2号", platform_id="A1")

    def test_database_refuses_two_defaults(self, shop):
        factories.ReturnAddressFactory(shop=shop, is_default=True)
        with pytest.raises(IntegrityError), transaction.atomic():
            factories.ReturnAddressFactory(shop=shop, is_default=True)

    @pytest.mark.parametrize("region", ["浙江省/杭州市", "浙江省//西湖区", "", "a/b/c/d"])
    def test_split_region_needs_three_parts(self, region):
        with pytest.raises(ValidationError, match="province/city/district"):
            svc.split_region(region)

    def test_split_region(self):
        assert svc.split_region(" 浙江省 / 杭州市 /西湖区") == ("浙江省", "杭州市", "西湖区")


class TestInfoMissing:
    def test_flag_needs_hotline_and_an_address(self, db):
        complete = factories.ShopFactory()
        add(complete, "1号")
        no_address = factories.ShopFactory()
        no_hotline = factories.ShopFactory(hotline="")
        add(no_hotline, "1号")
        flags = dict(shops_with_info_missing().values_list("pk", "info_missing"))
        assert flags == {complete.pk: False, no_address.pk: True, no_hotline.pk: True}
        assert [shop_info_missing(shop=s) for s in (complete, no_address, no_hotline)] == [False, True, True]


def run_at_once(function, calls: list[dict]) -> list[Exception]:
    """Call `function(**kwargs)` for each of `calls` in its own thread, all released together."""
    return errors_of(run_in_threads(len(calls), lambda i: function(**calls[i])))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_set_default_leaves_exactly_one(postgres_only):
    shop = factories.ShopFactory()
    addresses = [add(shop, f"{n}号") for n in range(4)]
    for _ in range(5):
        # Three staff press "set as default" on three different addresses at the same moment.
        errors = run_at_once(svc.address_set_default, [{"address": a} for a in addresses[1:]])
        assert errors == []
        assert len(defaults(shop)) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_addresses_make_one_default(postgres_only):
    shop = factories.ShopFactory()
    errors = run_at_once(add, [{"shop": shop, "detail": f"{n}号"} for n in range(4)])
    assert errors == []
    assert ReturnAddress.objects.filter(shop=shop).count() == 4
    assert len(defaults(shop)) == 1
