"""The accounts page shows every shop the user may see, with its opening balances, even before the
shop's money first moved (a shop's books open with the shop, SPEC §6.1), and a GET writes nothing."""

import pytest
from django.urls import reverse

from compensation.models import Account, LedgerTransaction

pytestmark = pytest.mark.django_db


def test_accounts_page_shows_a_shop_whose_money_never_moved(client, owner, shop, other_shop):
    # The factory shops opened with a deposit of 1000.00 and nothing has touched their money yet.
    before = LedgerTransaction.objects.count()
    client.force_login(owner)
    body = client.get(reverse("compensation:accounts")).content.decode()
    assert shop.platform_id in body and "1000.00" in body
    assert other_shop.platform_id not in body
    deposit = Account.objects.get(shop=shop, kind="deposit")
    assert deposit.balance == 1000 and deposit.entries.get().transaction.at == shop.opened_at
    assert LedgerTransaction.objects.count() == before  # reading the page wrote nothing
