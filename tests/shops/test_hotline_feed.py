"""National service numbers (400/800, SPEC §3) as the hotline a shop opens with on the feed."""

import pytest

from pddadmin.shops.models import Shop
from tests.feed.helpers import feed_line, run_import

pytestmark = pytest.mark.django_db


def test_shops_open_with_service_number_hotlines_and_a_malformed_one_is_rejected(tmp_path):
    code, _, rejected, err = run_import(
        tmp_path / "feed.jsonl",
        feed_line("s1", "shop.opened", shop="S1", name="一店", hotline="400-820-8820"),
        feed_line("s2", "shop.opened", shop="S2", name="二店", hotline="8001234567"),
        feed_line("s3", "shop.opened", shop="S3", name="三店", hotline="400-8208-820"),
        feed_line("s4", "shop.opened", shop="S4", name="四店", hotline="0571-88886666"),
    )
    assert (code, rejected) == (1, [3]), err
    assert "line 3: hotline “400-8208-820” is not a valid phone number" in err
    assert dict(Shop.objects.values_list("platform_id", "hotline")) == {
        "S1": "400-820-8820",
        "S2": "8001234567",
        "S4": "0571-88886666",
    }
