"""Shop services: the after-sales hotline, warranty switch, staff membership, and the phone rules."""

import pytest
from django.core.exceptions import ValidationError

from pddadmin.shops import services
from pddadmin.shops.models import Goods, Shop, ShopMembership
from pddadmin.shops.validators import validate_hotline, validate_phone
from tests import factories
from tests.conftest import at

VALID_HOTLINES = [
    "13800138000",
    "19912345678",
    "0571-88886666",
    "010-12345678",
    "0755 2345678",
    "(0571)88886666",
    "（0571）88886666",
    "057188886666",
    "0571-88886666-123",
    "021-61234567转8008",
    "400-820-8820",  # national service numbers (SPEC §3), grouped 3-3-4
    "4008208820",  # … or written together
    "800-123-4567",
    "8001234567",
]
INVALID_HOTLINES = [
    "12800138000",  # mobile must start 13–19
    "1380013800",  # 10 digits
    "138001380000",  # 12 digits
    "400820882",  # a service number is 400/800 and exactly 7 more digits
    "40082088201",
    "400 820 8820",  # grouped only with hyphens
    "4008-208-820",  # … and only as 3-3-4
    "400-8208820",
    "500-820-8820",  # 400 or 800 only
    "401-820-8820",
    "４００８２０８８２０",  # full-width digits
    "１３８００１３８０００",
    "571-88886666",  # area code must start with 0
    "0571-0888666",  # the number cannot start with 0
    "0571-123456",  # 6 digits
    "0571-123456789",  # 9 digits
    "0571-88886666-",  # extension without digits
    "hotline",
    "",
]


@pytest.mark.parametrize("number", VALID_HOTLINES)
def test_valid_hotlines(number):
    validate_hotline(number)


@pytest.mark.parametrize("number", INVALID_HOTLINES)
def test_invalid_hotlines_are_refused_with_the_rule(number):
    with pytest.raises(ValidationError) as raised:
        validate_hotline(number)
    assert "is not a valid phone number" in raised.value.messages[0]
    assert "0571-88886666" in raised.value.messages[0]
    assert "400-820-8820" in raised.value.messages[0]  # the message names every accepted form


@pytest.mark.parametrize("number", ["400-820-8820", "4008208820", "800-123-4567"])
def test_service_numbers_are_for_the_hotline_only(number):
    # A return address names a receiver, reached on a mobile or a landline (SPEC §3).
    with pytest.raises(ValidationError, match="is not a valid phone number"):
        validate_phone(number)


@pytest.mark.django_db
@pytest.mark.parametrize("number", ["400-820-8820", "8001234567"])
def test_shop_takes_a_service_number_as_its_hotline(number):
    shop = services.shop_open(platform_id="S1", name="x", at=at("2026-01-01 10:00"), hotline=number)
    assert Shop.objects.get(pk=shop.pk).hotline == number
    services.shop_set_hotline(shop=shop, hotline="400-123-4567", at=at("2026-01-02 10:00"))
    assert Shop.objects.get(pk=shop.pk).hotline == "400-123-4567"


def test_shop_open_refuses_invalid_hotline(db):
    with pytest.raises(ValidationError, match="not a valid phone number"):
        services.shop_open(platform_id="S1", name="x", at=at("2026-01-01 10:00"), hotline="12345")


@pytest.mark.django_db
class TestGoodsWarranty:
    def test_switch_on_and_off(self):
        goods = factories.GoodsFactory()
        services.goods_set_warranty(goods=goods, warranty=True, at=at("2026-01-02 10:00"))
        assert Goods.objects.get(pk=goods.pk).warranty is True
        services.goods_set_warranty(goods=goods, warranty=False, at=at("2026-01-03 10:00"))
        stored = Goods.objects.get(pk=goods.pk)
        assert stored.warranty is False
        assert stored.changed_at == at("2026-01-03 10:00")

    def test_mandatory_cannot_be_switched_off(self):
        goods = factories.GoodsFactory(warranty=True, warranty_mandatory=True)
        with pytest.raises(ValidationError, match="mandatory"):
            services.goods_set_warranty(goods=goods, warranty=False)
        assert Goods.objects.get(pk=goods.pk).warranty is True

    def test_earlier_orders_keep_their_snapshot(self):
        goods = factories.GoodsFactory(warranty=True)
        order = factories.OrderFactory(goods=goods)
        services.goods_set_warranty(goods=goods, warranty=False)
        order.refresh_from_db()
        assert order.warranty is True


@pytest.mark.django_db
class TestMembership:
    def test_add_and_change_role(self, shop):
        user = factories.UserFactory()
        services.membership_set(shop=shop, user=user, role="viewer")
        services.membership_set(shop=shop, user=user, role="agent")
        assert ShopMembership.objects.get(shop=shop, user=user).role == "agent"

    def test_unknown_role(self, shop):
        with pytest.raises(ValidationError, match="unknown role"):
            services.membership_set(shop=shop, user=factories.UserFactory(), role="boss")

    def test_inactive_user(self, shop):
        with pytest.raises(ValidationError, match="inactive"):
            services.membership_set(shop=shop, user=factories.UserFactory(is_active=False), role="agent")

    def test_last_owner_cannot_be_demoted_or_removed(self, shop, owner):
        membership = ShopMembership.objects.get(shop=shop, user=owner)
        with pytest.raises(ValidationError, match="at least one owner"):
            services.membership_set(shop=shop, user=owner, role="agent")
        with pytest.raises(ValidationError, match="at least one owner"):
            services.membership_remove(membership=membership)
        assert ShopMembership.objects.get(pk=membership.pk).role == "owner"

    def test_an_owner_goes_once_another_owner_exists(self, shop, owner):
        services.membership_set(shop=shop, user=factories.UserFactory(), role="owner")
        services.membership_remove(membership=ShopMembership.objects.get(shop=shop, user=owner))
        assert not ShopMembership.objects.filter(shop=shop, user=owner).exists()

    def test_a_member_can_sign_in_and_loses_it_with_the_last_shop(self, shop, client):
        # #18.2: adding a member who was not yet staff reported success, but the login refused them.
        user = factories.UserFactory(is_staff=False)
        user.set_password("pw-123456")
        user.save()
        services.membership_set(shop=shop, user=user, role="agent")
        user.refresh_from_db()
        assert user.is_staff
        assert client.login(username=user.username, password="pw-123456")
        response = client.post("/admin/login/", {"username": user.username, "password": "pw-123456", "next": "/admin/"})
        assert response.status_code == 302
        services.membership_remove(membership=ShopMembership.objects.get(shop=shop, user=user))
        user.refresh_from_db()
        assert not user.is_staff

    def test_removal_keeps_staff_with_another_shop_or_a_platform_role(self, shop, reviewer):
        other = factories.ShopFactory()
        user = factories.UserFactory(is_staff=False)
        services.membership_set(shop=shop, user=user, role="viewer")
        services.membership_set(shop=other, user=user, role="viewer")
        services.membership_remove(membership=ShopMembership.objects.get(shop=shop, user=user))
        user.refresh_from_db()
        assert user.is_staff
        services.membership_set(shop=shop, user=reviewer, role="viewer")
        services.membership_remove(membership=ShopMembership.objects.get(shop=shop, user=reviewer))
        reviewer.refresh_from_db()
        assert reviewer.is_staff

    def test_other_shops_owners_do_not_count(self, shop, owner, outsider):
        with pytest.raises(ValidationError, match="at least one owner"):
            services.membership_remove(membership=ShopMembership.objects.get(shop=shop, user=owner))


class TestHotline:
    @pytest.mark.parametrize("number", ["13912345678", "0571-88886666", "010 12345678-8001", " 15000000000 "])
    def test_valid_numbers_are_stored_normalised(self, shop, number):
        services.shop_set_hotline(shop=shop, hotline=number, at=at("2026-01-02 10:00"))
        stored = Shop.objects.get(pk=shop.pk)
        assert stored.hotline == number.strip()
        assert stored.changed_at == at("2026-01-02 10:00")

    @pytest.mark.parametrize("number", ["12912345678", "1391234567", "88886666", "0571-8888", "abc"])
    def test_invalid_numbers_are_refused(self, shop, number):
        with pytest.raises(ValidationError, match="not a valid phone number"):
            services.shop_set_hotline(shop=shop, hotline=number)
        assert Shop.objects.get(pk=shop.pk).hotline == "13800138000"

    def test_hotline_is_required(self, shop):
        with pytest.raises(ValidationError, match="hotline is required"):
            services.shop_set_hotline(shop=shop, hotline="  ")
