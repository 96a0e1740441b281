"""After-sales settings in the admin: hotline, return addresses, the missing-info flag, languages."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from aftersales.models import ReturnAddress
from aftersales.services import addresses as address_services
from pddadmin.shops.models import Shop
from tests import factories
from tests.shops.admin_helpers import client_for, listed, messages_of

FORM = dict(receiver="张三", phone="0571-88886666", province="浙江省", city="杭州市", district="西湖区")
CHANGELIST = reverse("admin:aftersales_returnaddress_changelist")


def add_via_admin(client, shop, detail, **extra):
    data = {"shop": shop.pk, **FORM, "detail": detail, **extra}
    return client.post(reverse("admin:aftersales_returnaddress_add"), data)


def defaults(shop):
    return list(ReturnAddress.objects.filter(shop=shop, is_default=True).values_list("detail", flat=True))


class TestHotline:
    def url(self, shop):
        return reverse("admin:shops_shop_change", args=[shop.pk])

    @pytest.mark.parametrize("number", ["15912345678", "0571-88886666-801", "(010)12345678", "400-820-8820"])
    def test_owner_sets_a_valid_hotline(self, shop, owner, number):
        response = client_for(owner).post(self.url(shop), {"hotline": number})
        assert response.status_code == 302
        assert Shop.objects.get(pk=shop.pk).hotline == number

    @pytest.mark.parametrize("number", ["1591234567", "0571-888", "400-820-882", ""])
    def test_invalid_hotline_is_refused_with_message(self, shop, owner, number):
        response = client_for(owner).post(self.url(shop), {"hotline": number})
        assert response.status_code == 200
        content = response.content.decode()
        assert "is not a valid phone number" in content or "hotline is required" in content
        assert Shop.objects.get(pk=shop.pk).hotline == "13800138000"

    def test_platform_figures_are_read_only(self, shop, owner):
        client_for(owner).post(self.url(shop), {"hotline": "13912345678", "name": "Renamed", "deposit": "0.01"})
        stored = Shop.objects.get(pk=shop.pk)
        assert (stored.hotline, stored.name, str(stored.deposit)) == ("13912345678", shop.name, "1000.00")


class TestInfoMissingColumn:
    def test_flag_column_and_filter(self, db, reviewer):
        complete = factories.ShopFactory()
        factories.ReturnAddressFactory(shop=complete, is_default=True)
        missing = factories.ShopFactory()
        client = client_for(reviewer)
        url = reverse("admin:shops_shop_changelist")
        assert listed(client.get(url, {"info_missing": "1"})) == {missing.pk}
        assert listed(client.get(url, {"info_missing": "0"})) == {complete.pk}
        response = client.get(url)
        flags = {shop.pk: shop.info_missing for shop in response.context["cl"].result_list}
        assert flags == {complete.pk: False, missing.pk: True}


class TestReturnAddressAdmin:
    def test_first_added_becomes_default_and_exactly_one_stays(self, shop, owner):
        client = client_for(owner)
        assert add_via_admin(client, shop, "1号").status_code == 302
        assert add_via_admin(client, shop, "2号").status_code == 302
        assert defaults(shop) == ["1号"]
        assert add_via_admin(client, shop, "3号", make_default="on").status_code == 302
        assert defaults(shop) == ["3号"]

    def test_invalid_phone_is_refused(self, shop, owner):
        response = add_via_admin(client_for(owner), shop, "1号", phone="12345")
        assert response.status_code == 200
        assert "is not a valid phone number" in response.content.decode()
        assert not ReturnAddress.objects.exists()

    def test_edit_goes_through_the_service(self, shop, owner):
        address = factories.ReturnAddressFactory(shop=shop, is_default=True)
        response = client_for(owner).post(
            reverse("admin:aftersales_returnaddress_change", args=[address.pk]),
            {**FORM, "receiver": " 李四 ", "detail": "新地址"},
        )
        assert response.status_code == 302
        address.refresh_from_db()
        assert (address.receiver, address.detail, address.is_default) == ("李四", "新地址", True)

    def test_set_default_action_flips(self, shop, owner):
        first = factories.ReturnAddressFactory(shop=shop, is_default=True, detail="1号")
        second = factories.ReturnAddressFactory(shop=shop, detail="2号")
        client = client_for(owner)
        response = client.post(CHANGELIST, {"action": "make_default", "_selected_action": [second.pk]}, follow=True)
        assert "is now the default return address" in " ".join(messages_of(response))
        assert defaults(shop) == ["2号"]
        response = client.post(
            CHANGELIST, {"action": "make_default", "_selected_action": [first.pk, second.pk]}, follow=True
        )
        assert "Select exactly one address" in " ".join(messages_of(response))
        assert defaults(shop) == ["2号"]

    def test_a_refusing_service_becomes_a_message(self, shop, owner, monkeypatch):
        spare = factories.ReturnAddressFactory(shop=shop)

        def refuse(**kwargs):
            raise ValidationError("the platform froze this address book")

        monkeypatch.setattr(address_services, "address_set_default", refuse)
        response = client_for(owner).post(CHANGELIST, {"action": "make_default", "_selected_action": [spare.pk]})
        assert response.status_code == 302
        assert messages_of(response) == ["the platform froze this address book"]

    def test_default_cannot_be_deleted_from_its_page(self, shop, owner):
        # #18.7: its page offered a delete button that could only fail; now it offers none.
        default = factories.ReturnAddressFactory(shop=shop, is_default=True)
        spare = factories.ReturnAddressFactory(shop=shop)
        client = client_for(owner)
        delete = reverse("admin:aftersales_returnaddress_delete", args=[default.pk])
        page = client.get(reverse("admin:aftersales_returnaddress_change", args=[default.pk])).content.decode()
        assert delete not in page and 'class="deletelink"' not in page
        spare_page = client.get(reverse("admin:aftersales_returnaddress_change", args=[spare.pk])).content.decode()
        assert reverse("admin:aftersales_returnaddress_delete", args=[spare.pk]) in spare_page
        response = client.post(delete, {"post": "yes"})  # from a page opened before it became the default
        assert "is the default return address and cannot be deleted" in " ".join(messages_of(response))
        assert ReturnAddress.objects.filter(pk=default.pk).exists()

    def test_bulk_delete_with_the_default_deletes_nothing(self, shop, owner):
        default = factories.ReturnAddressFactory(shop=shop, is_default=True, detail="1号")
        spare = factories.ReturnAddressFactory(shop=shop, detail="2号")
        response = client_for(owner).post(
            CHANGELIST,
            {"action": "delete_selected", "_selected_action": [spare.pk, default.pk], "post": "yes"},
            follow=True,
        )
        shown = " ".join(messages_of(response))
        assert "cannot be deleted" in shown
        assert "Successfully deleted" not in shown
        assert set(ReturnAddress.objects.values_list("pk", flat=True)) == {default.pk, spare.pk}

    def test_non_default_is_deleted(self, shop, owner):
        factories.ReturnAddressFactory(shop=shop, is_default=True)
        spare = factories.ReturnAddressFactory(shop=shop)
        response = client_for(owner).post(
            CHANGELIST, {"action": "delete_selected", "_selected_action": [spare.pk], "post": "yes"}, follow=True
        )
        assert "Successfully deleted 1" in " ".join(messages_of(response))
        assert not ReturnAddress.objects.filter(pk=spare.pk).exists()

    def test_agent_cannot_add_or_set_default(self, shop, agent):
        factories.ReturnAddressFactory(shop=shop, is_default=True)
        spare = factories.ReturnAddressFactory(shop=shop)
        client = client_for(agent)
        assert add_via_admin(client, shop, "9号").status_code == 403
        response = client.post(CHANGELIST, {"action": "make_default", "_selected_action": [spare.pk]})
        # The action is not offered to agents at all: Django answers "no action selected".
        assert not ReturnAddress.objects.get(pk=spare.pk).is_default
        assert response.status_code in (200, 302)


class TestLanguages:
    def test_chinese_by_default_and_english_after_switch(self, shop, owner):
        client = client_for(owner, language="zh-hans")
        del client.cookies["django_language"]
        url = reverse("admin:aftersales_returnaddress_changelist")
        page = client.get(url).content.decode()
        assert "拼多多商家后台 · pddadmin" in page
        assert "退货地址" in page
        assert "设为默认退货地址" in page
        response = client.post(reverse("set_language"), {"language": "en", "next": url})
        assert response.status_code == 302
        page = client.get(url).content.decode()
        assert "Pinduoduo merchant back-office · pddadmin" in page
        assert "Set as the default return address" in page
        assert "退货地址" not in page

    def test_error_messages_in_chinese(self, shop, owner):
        default = factories.ReturnAddressFactory(shop=shop, is_default=True)
        client = client_for(owner, language="zh-hans")
        response = client.post(reverse("admin:aftersales_returnaddress_delete", args=[default.pk]), {"post": "yes"})
        assert "是默认退货地址，不能删除" in " ".join(messages_of(response))
        response = client.post(reverse("admin:shops_shop_change", args=[shop.pk]), {"hotline": "123"})
        assert "不是有效的电话号码" in response.content.decode()
