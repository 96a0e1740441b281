"""Every string the exchange and the shipping rule added reads in Chinese (the zh_Hans catalogues
of aftersales and shops), and the Chinese names are the ones the platform uses."""

import pytest
from django.utils import translation

from aftersales.models import Kind, State, transition_labels

pytestmark = pytest.mark.usefixtures("compiled_catalogues")

NEW_STRINGS = [
    "exchange",
    "exchanged",
    "replacement tracking number",
    "Send replacement",
    "the replacement's tracking number",
    "an exchange needs a quality reason or damaged_in_transit, wrong_or_missing or other, not %(reason)s",
    "goods %(goods)s are special goods (refund only): no exchange",
    "order %(order)s is not received: an exchange can be opened only after receipt",
    "the exchange window of order %(order)s (7 days after receipt) ended at %(end)s",
    "case %(case)s is %(kind)s, not an exchange: there is no replacement to send",
    "shipment at %(at)s is older than the last change of case %(case)s of order %(order)s (%(last)s)",
    "order %(order)s was refunded (case %(case)s) before shipment: a refunded order is not shipped",
    "order %(order)s has an open after-sales request %(case)s opened before shipment: "
    "ask the buyer to cancel it before shipping",
    "%(label)s “%(value)s” is not a valid phone number: use a mainland mobile number "
    "(11 digits starting 13–19), a landline with area code, e.g. 0571-88886666, or a "
    "400/800 service number, e.g. 400-820-8820.",
]


@pytest.mark.parametrize("msgid", NEW_STRINGS)
def test_each_new_string_has_a_chinese_translation(msgid):
    with translation.override("zh-hans"):
        translated = translation.gettext(msgid)
    assert translated != msgid
    placeholders = sorted(part.split(")")[0] for part in msgid.split("%(")[1:])
    assert sorted(part.split(")")[0] for part in translated.split("%(")[1:]) == placeholders


def test_the_platforms_names_for_the_exchange():
    with translation.override("zh-hans"):
        assert (str(Kind.EXCHANGE.label), str(State.EXCHANGED.label)) == ("换货", "换货完成")
        assert str(transition_labels()["reship"]) == "发出换货"
