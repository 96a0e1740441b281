"""Test data in one place. Times default to fixed Shanghai moments so tests read like the SPEC."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from aftersales.models import ReturnAddress
from pddadmin.shops.models import Goods, Order, Shop, ShopMembership

TEST_PASSWORD = "pw-for-tests-123"
TZ = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 1, 1, 10, 0, tzinfo=TZ)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    is_staff = True
    # Hashed before the insert, so the stored hash is the one sessions are bound to.
    password = factory.django.Password(TEST_PASSWORD)


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop

    platform_id = factory.Sequence(lambda n: f"S{n:04d}")
    name = factory.Sequence(lambda n: f"Shop {n}")
    deposit = Decimal("1000.00")
    balance = Decimal("0.00")
    hotline = "13800138000"
    opened_at = T0
    changed_at = T0


class GoodsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Goods

    platform_id = factory.Sequence(lambda n: f"G{n:05d}")
    shop = factory.SubFactory(ShopFactory)
    name = factory.Sequence(lambda n: f"Goods {n}")
    category = "digital"
    listed_at = T0
    changed_at = T0


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    platform_id = factory.Sequence(lambda n: f"O{n:06d}")
    goods = factory.SubFactory(GoodsFactory)
    shop = factory.SelfAttribute("goods.shop")
    buyer = factory.Sequence(lambda n: f"B{n:05d}")
    amount = Decimal("59.90")
    placed_at = T0
    promised_ship_by = factory.LazyAttribute(lambda o: o.placed_at + dt.timedelta(hours=48))
    warranty = factory.SelfAttribute("goods.warranty")
    changed_at = factory.SelfAttribute("placed_at")


class ReturnAddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReturnAddress

    shop = factory.SubFactory(ShopFactory)
    receiver = "张三"
    phone = "0571-88886666"
    province = "浙江省"
    city = "杭州市"
    district = "西湖区"
    detail = factory.Sequence(lambda n: f"文三路{n}号")
    is_default = False
    created_at = T0
    changed_at = T0


def member(shop: Shop, role: str, **user_fields):
    user = UserFactory(**user_fields)
    ShopMembership.objects.create(shop=shop, user=user, role=role)
    return user
