"""The queue's filters in Chinese (#18.7): 全部 instead of django-filter's ---------, a labelled shop
box that suggests the queue's shops, and the button says 筛选 (Django admin's catalogue, served
before ours, said 过滤器)."""

import re

import pytest
from django.urls import reverse

from tests import factories
from tests.review.factories import EscalatedCaseFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("compiled_catalogues")]


def test_the_queue_filters_read_in_chinese(client, login, reviewer):
    shop = factories.ShopFactory(name="果园旗舰店")
    EscalatedCaseFactory(order=factories.OrderFactory(goods=factories.GoodsFactory(shop=shop)))
    login(reviewer)
    client.cookies["django_language"] = "zh-hans"
    html = client.get(reverse("review:queue")).content.decode()
    form = html.split('id="queue-filters"', 1)[1].split("</form>", 1)[0]
    assert "---------" not in form
    assert form.count(">全部</option>") == 4  # kind, reason, waiting, claim
    assert 'value="筛选"' in form and "过滤器" not in form
    # the shop box: labelled, and suggesting the shops of the queue by id with their names
    assert re.search(r"<label[^>]*>店铺ID或店名", form)
    assert 'list="queue-shops"' in form
    assert f'<option value="{shop.platform_id}">果园旗舰店</option>' in form
