"""Merchant staff see and touch only their own shops in the admin; roles decide what they may do."""

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from aftersales.models import ReturnAddress
from pddadmin.shops.models import Goods, Order, Shop, ShopMembership
from tests import factories
from tests.shops.admin_helpers import client_for, listed


@dataclass
class World:
    shop: Shop
    other: Shop
    owner: object
    agent: object
    viewer: object
    outsider: object
    objects: dict  # admin url name -> (object of `shop`, object of `other`)


@pytest.fixture
def world(db):
    shop = factories.ShopFactory(platform_id="SHOPA1", name="Alpha store")
    other = factories.ShopFactory(platform_id="SHOPB1", name="Beta store")
    owner = factories.member(shop, "owner", username="alpha_owner")
    agent = factories.member(shop, "agent", username="alpha_agent")
    viewer = factories.member(shop, "viewer", username="alpha_viewer")
    outsider = factories.member(other, "owner", username="beta_owner")
    goods = factories.GoodsFactory(shop=shop, platform_id="GA-1")
    their_goods = factories.GoodsFactory(shop=other, platform_id="GB-1")
    objects = {
        "shops_shop": (shop, other),
        "shops_shopmembership": (
            ShopMembership.objects.get(shop=shop, user=owner),
            ShopMembership.objects.get(shop=other, user=outsider),
        ),
        "shops_goods": (goods, their_goods),
        "shops_order": (
            factories.OrderFactory(goods=goods, platform_id="OA-1", buyer="BUYER-A"),
            factories.OrderFactory(goods=their_goods, platform_id="OB-1", buyer="BUYER-B"),
        ),
        "aftersales_returnaddress": (
            factories.ReturnAddressFactory(shop=shop, receiver="Alice-A", phone="13800000001", is_default=True),
            factories.ReturnAddressFactory(shop=other, receiver="Bob-B", phone="13800000002", is_default=True),
        ),
    }
    return World(shop, other, owner, agent, viewer, outsider, objects)


MERCHANT_MODELS = [
    "shops_shop",
    "shops_shopmembership",
    "shops_goods",
    "shops_order",
    "aftersales_returnaddress",
]
PLATFORM_OWNED = {"shops_shop", "shops_goods", "shops_order"}
# A search term that finds exactly the object, per model.
SEARCH = {
    "shops_shop": lambda o: o.platform_id,
    "shops_shopmembership": lambda o: o.user.username,
    "shops_goods": lambda o: o.platform_id,
    "shops_order": lambda o: o.platform_id,
    "aftersales_returnaddress": lambda o: o.receiver,
}


@pytest.mark.parametrize("name", MERCHANT_MODELS)
@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_other_shops_object_is_404(world, name, view):
    theirs, mine = world.objects[name]
    client = client_for(world.outsider)
    # Shops, goods and orders come from the platform: nobody deletes them in the admin.
    own_status = 403 if view == "delete" and name in PLATFORM_OWNED else 200
    assert client.get(reverse(f"admin:{name}_{view}", args=[mine.pk])).status_code == own_status
    response = client.get(reverse(f"admin:{name}_{view}", args=[theirs.pk]))
    assert response.status_code == 404
    # A POST (e.g. confirming a delete) is refused just the same and changes nothing.
    response = client.post(reverse(f"admin:{name}_{view}", args=[theirs.pk]), {"post": "yes"})
    assert response.status_code in (403, 404)
    assert type(theirs).objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("name", MERCHANT_MODELS)
def test_changelist_and_search_show_only_own_shop(world, name):
    theirs, mine = world.objects[name]
    client = client_for(world.outsider)
    url = reverse(f"admin:{name}_changelist")
    assert listed(client.get(url)) == {mine.pk}
    assert listed(client.get(url, {"q": SEARCH[name](theirs)})) == set()
    assert listed(client.get(url, {"q": SEARCH[name](mine)})) == {mine.pk}


@pytest.mark.parametrize("name", [n for n in MERCHANT_MODELS if n != "shops_shop"])
def test_shop_filter_cannot_reach_another_shop(world, name):
    _theirs, mine = world.objects[name]
    client = client_for(world.outsider)
    url = reverse(f"admin:{name}_changelist")
    assert listed(client.get(url, {"shop": world.shop.pk})) == set()
    assert listed(client.get(url, {"shop": world.other.pk})) == {mine.pk}


@pytest.mark.parametrize("name", MERCHANT_MODELS)
def test_platform_staff_see_every_shop(world, name, reviewer):
    theirs, mine = world.objects[name]
    assert listed(client_for(reviewer).get(reverse(f"admin:{name}_changelist"))) >= {theirs.pk, mine.pk}


# (source app, source model, field) whose autocomplete lists the target model's admin rows.
AUTOCOMPLETE = {
    "shops_shop": ("aftersales", "returnaddress", "shop"),
    "shops_goods": ("shops", "order", "goods"),
    "shops_order": ("aftersales", "aftersalescase", "order"),
}


@pytest.mark.parametrize("name", sorted(AUTOCOMPLETE))
def test_autocomplete_never_returns_other_shops(world, name):
    theirs, mine = world.objects[name]
    app_label, model_name, field_name = AUTOCOMPLETE[name]
    client = client_for(world.outsider)
    url = reverse("admin:autocomplete")
    params = {"app_label": app_label, "model_name": model_name, "field_name": field_name}

    def ids(term):
        response = client.get(url, {**params, "term": term})
        assert response.status_code == 200
        return {int(r["id"]) for r in response.json()["results"]}

    assert ids("") == {mine.pk}
    assert ids(SEARCH[name](theirs)) == set()
    assert ids(SEARCH[name](mine)) == {mine.pk}


def test_shop_filter_lists_only_own_shops(world):
    response = client_for(world.outsider).get(reverse("admin:shops_order_changelist"))
    content = response.content.decode()
    assert "Beta store" in content
    assert "Alpha store" not in content


def test_merchant_without_model_permissions_reaches_the_admin(world):
    assert not world.viewer.user_permissions.exists() and not world.viewer.groups.exists()
    response = client_for(world.viewer).get(reverse("admin:index"))
    assert response.status_code == 200
    names = {m["object_name"] for app in response.context["app_list"] for m in app["models"]}
    # Staff management is for owners only; the feed audit for the platform.
    assert names >= {"Shop", "Goods", "Order", "ReturnAddress"}
    assert not names & {"ShopMembership", "ImportedEvent", "User", "Group"}


def test_non_staff_user_cannot_log_in(world):
    world.viewer.is_staff = False
    world.viewer.save()
    response = client_for(world.viewer).get(reverse("admin:shops_order_changelist"))
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- roles --------------------------------------------------------------------------------


def address_form(address, **changes):
    data = {
        name: getattr(address, name) for name in ["receiver", "phone", "province", "city", "district", "detail"]
    }
    return {**data, **changes}


def test_viewer_reads_but_cannot_change(world):
    address = world.objects["aftersales_returnaddress"][0]
    client = client_for(world.viewer)
    url = reverse("admin:aftersales_returnaddress_change", args=[address.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.post(url, address_form(address, receiver="Mallory")).status_code == 403
    assert client.get(reverse("admin:aftersales_returnaddress_add")).status_code == 403
    order = world.objects["shops_order"][0]
    assert client.get(reverse("admin:shops_order_change", args=[order.pk])).status_code == 200
    address.refresh_from_db()
    assert address.receiver == "Alice-A"


def test_agent_cannot_edit_settings_or_staff(world):
    client = client_for(world.agent)
    address = world.objects["aftersales_returnaddress"][0]
    goods = world.objects["shops_goods"][0]
    membership = world.objects["shops_shopmembership"][0]
    assert client.post(
        reverse("admin:aftersales_returnaddress_change", args=[address.pk]), address_form(address, receiver="X")
    ).status_code == 403
    assert client.post(
        reverse("admin:shops_shop_change", args=[world.shop.pk]), {"hotline": "13912345678"}
    ).status_code == 403
    assert client.post(reverse("admin:shops_goods_change", args=[goods.pk]), {"warranty": "on"}).status_code == 403
    # Staff are invisible to agents: owners manage them.
    assert client.get(reverse("admin:shops_shopmembership_changelist")).status_code == 403
    assert client.get(reverse("admin:shops_shopmembership_change", args=[membership.pk])).status_code == 404
    world.shop.refresh_from_db()
    goods.refresh_from_db()
    assert world.shop.hotline == "13800138000" and goods.warranty is False


def test_owner_edits_settings_and_staff(world):
    client = client_for(world.owner)
    goods = world.objects["shops_goods"][0]
    response = client.post(reverse("admin:shops_shop_change", args=[world.shop.pk]), {"hotline": "0571-88886666"})
    assert response.status_code == 302
    response = client.post(reverse("admin:shops_goods_change", args=[goods.pk]), {"warranty": "on"})
    assert response.status_code == 302
    newcomer = factories.UserFactory(username="alpha_new")
    response = client.post(
        reverse("admin:shops_shopmembership_add"), {"shop": world.shop.pk, "username": "alpha_new", "role": "agent"}
    )
    assert response.status_code == 302
    world.shop.refresh_from_db()
    goods.refresh_from_db()
    assert world.shop.hotline == "0571-88886666"
    assert goods.warranty is True
    assert ShopMembership.objects.get(user=newcomer).role == "agent"


def test_owner_cannot_add_staff_to_another_shop(world):
    factories.UserFactory(username="intruder")
    response = client_for(world.owner).post(
        reverse("admin:shops_shopmembership_add"), {"shop": world.other.pk, "username": "intruder", "role": "owner"}
    )
    assert response.status_code == 200
    assert "shop" in response.context["adminform"].form.errors
    assert not ShopMembership.objects.filter(user__username="intruder").exists()


def test_owner_of_one_shop_and_viewer_of_another_gets_each_role(world):
    ShopMembership.objects.create(shop=world.other, user=world.owner, role="viewer")
    client = client_for(world.owner)
    mine, theirs = world.objects["aftersales_returnaddress"]
    assert listed(client.get(reverse("admin:aftersales_returnaddress_changelist"))) == {mine.pk, theirs.pk}
    response = client.post(
        reverse("admin:aftersales_returnaddress_change", args=[theirs.pk]), address_form(theirs, receiver="X")
    )
    assert response.status_code == 403
    # Bulk delete of the shop where the user only views is refused too.
    extra = factories.ReturnAddressFactory(shop=world.other)
    response = client.post(
        reverse("admin:aftersales_returnaddress_changelist"),
        {"action": "delete_selected", "_selected_action": [extra.pk], "post": "yes"},
    )
    assert response.status_code == 403
    assert ReturnAddress.objects.filter(pk=extra.pk).exists()
    # The add form offers only the shop the user owns.
    form = client.get(reverse("admin:aftersales_returnaddress_add")).context["adminform"].form
    assert list(form.fields["shop"].queryset) == [world.shop]


def test_last_owner_cannot_be_removed(world):
    membership = world.objects["shops_shopmembership"][0]
    client = client_for(world.owner)
    response = client.post(reverse("admin:shops_shopmembership_delete", args=[membership.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert ShopMembership.objects.filter(pk=membership.pk).exists()
    response = client.post(
        reverse("admin:shops_shopmembership_change", args=[membership.pk]), {"role": "viewer", "username": "x"}
    )
    assert response.status_code == 200
    assert "at least one owner" in str(response.context["adminform"].form.non_field_errors())
    membership.refresh_from_db()
    assert membership.role == "owner"


def test_mandatory_warranty_cannot_be_switched_off_in_the_form(world):
    # #18.7: the box was editable and then refused; mandatory warranty is shown read-only instead.
    goods = world.objects["shops_goods"][0]
    Goods.objects.filter(pk=goods.pk).update(warranty=True, warranty_mandatory=True)
    client = client_for(world.owner)
    url = reverse("admin:shops_goods_change", args=[goods.pk])
    assert 'name="warranty"' not in client.get(url).content.decode()
    response = client.post(url, {"warranty": ""})
    assert response.status_code == 302
    goods.refresh_from_db()
    assert goods.warranty is True
    Goods.objects.filter(pk=goods.pk).update(warranty_mandatory=False)
    assert 'name="warranty"' in client.get(url).content.decode()


def test_orders_are_read_only_for_everyone(world, reviewer):
    order = world.objects["shops_order"][0]
    superuser = factories.UserFactory(is_superuser=True)
    for user in (world.owner, reviewer, superuser):
        client = client_for(user)
        url = reverse("admin:shops_order_change", args=[order.pk])
        assert client.get(url).status_code == 200
        assert client.post(url, {"buyer": "changed"}).status_code == 403
        assert client.get(reverse("admin:shops_order_add")).status_code == 403
    order.refresh_from_db()
    assert order.buyer == "BUYER-A"


def test_reviewer_sees_but_cannot_change_without_permissions(world, reviewer):
    address = world.objects["aftersales_returnaddress"][0]
    client = client_for(reviewer)
    url = reverse("admin:aftersales_returnaddress_change", args=[address.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, address_form(address, receiver="X")).status_code == 403


def test_feed_events_are_for_platform_staff_only(world, reviewer):
    url = reverse("admin:feed_importedevent_changelist")
    assert client_for(world.owner).get(url).status_code == 403
    assert client_for(reviewer).get(url).status_code == 200


def test_reviewers_group_exists_after_migrations(db):
    assert Group.objects.filter(name="reviewers").exists()


def test_reviewers_group_survives_a_flush(transactional_db):
    # A flush (run by every transactional test between tests) empties auth_group; the group must
    # come back with post_migrate, or a later test or a flushed server has no reviewers group.
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)
    assert Group.objects.filter(name="reviewers").exists()


def test_order_search_uses_exact_ids(world):
    client = client_for(world.owner)
    url = reverse("admin:shops_order_changelist")
    mine = world.objects["shops_order"][0]
    assert listed(client.get(url, {"q": "BUYER-A"})) == {mine.pk}
    # No %contains% scan: a fragment of an id finds nothing.
    assert listed(client.get(url, {"q": "OA-"})) == set()
    assert Order.objects.filter(platform_id__contains="OA-").exists()
