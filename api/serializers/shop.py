"""The shop's other objects as the API shows them (SPEC §10): conversations and replies, return
addresses, out-of-stock declarations, the day's metrics and the forecast, charges and accounts;
and the bodies and query strings of their operations."""

import base64
import datetime as dt

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from compensation.models import AccountKind, ChargeKind
from customerservice.models import TEXT_LIMIT, Direction
from metrics.forecast import FORECAST_DAYS, LEVELS
from pddadmin.shops.validators import validate_phone

from .cases import SOME_TEXT, TextField
from .query import QuerySerializer, cursor_field

MONEY = {"max_digits": 12, "decimal_places": 2}
RATE = {"max_digits": 9, "decimal_places": 6, "allow_null": True}
# The days a forecast is made for: a day of the platform's era (a window reaches 29 days back; a
# year 1 date would underflow), and never after the last complete day.
FIRST_DAY = dt.date(2000, 1, 1)
# A return address's phone as the back-office keeps it (pddadmin.shops.validators: a mobile or a
# landline), said as a pattern so that clients see the rule in the description.
PHONE = RegexValidator(
    r"^(?:1[3-9][0-9]{9}|(?:\(0[0-9]{2,3}\)|0[0-9]{2,3})[- ]?[1-9][0-9]{6,7}(?:(?:-|转|ext\.?|#)[0-9]{1,6})?)$",
    _("A mainland mobile number (11 digits from 13–19) or a landline with its area code, e.g. 0571-88886666."),
)
MAX_IMAGES = 9
# Standard base64 with its padding, exactly what base64.b64decode(validate=True) reads.
BASE64 = RegexValidator(
    r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$", _("Each image is a file in base64.")
)


# --- customer service (SPEC §7.1, §7.2) -------------------------------------------------------


class MessageSerializer(serializers.Serializer):
    id = serializers.CharField(source="platform_id", help_text="The platform's message id (`reply:…` for ours).")
    direction = serializers.ChoiceField(choices=Direction.choices)
    text = serializers.CharField()
    at = serializers.DateTimeField()
    order = serializers.CharField(source="order.platform_id", allow_null=True, default=None)
    source = serializers.CharField(help_text="feed, admin or api.")
    reply_due_at = serializers.DateTimeField(allow_null=True, help_text="Buyer messages: received + 48 h.")
    answered_at = serializers.DateTimeField(allow_null=True)


class ConversationSerializer(serializers.Serializer):
    buyer = serializers.CharField(help_text="The platform's buyer id; names the conversation in paths.")
    last_message_at = serializers.DateTimeField()
    reply_due_at = serializers.DateTimeField(
        allow_null=True, help_text="Reply due of the oldest unanswered buyer message; null when none waits."
    )
    last_violation_at = serializers.DateTimeField(allow_null=True, help_text="Due time of its last late reply.")


class WaitingConversationSerializer(ConversationSerializer):
    seconds_left = serializers.SerializerMethodField(help_text="Until the reply due; negative once overdue.")
    waiting = MessageSerializer(source="waiting_messages", many=True, help_text="The unanswered buyer messages.")

    def get_seconds_left(self, conversation) -> int:
        return int((conversation.reply_due_at - self.context["now"]).total_seconds())


class WaitingPageSerializer(serializers.Serializer):
    results = WaitingConversationSerializer(many=True)
    has_more = serializers.BooleanField(help_text="More conversations wait after this page.")


class ConversationDetailSerializer(ConversationSerializer):
    messages = MessageSerializer(source="thread", many=True, help_text="Every message, oldest first.")


class WaitingQuerySerializer(QuerySerializer):
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500)


class ReplySerializer(serializers.Serializer):
    text = TextField(max_length=TEXT_LIMIT, validators=[SOME_TEXT])
    images = serializers.ListField(
        child=TextField(
            allow_blank=True, trim_whitespace=False, validators=[BASE64], help_text="An image file, base64."
        ),
        required=False,
        max_length=MAX_IMAGES,
        help_text="Attached images, each base64 (read for QR codes: SPEC §7.2).",
    )

    def validate_images(self, images: list[str]) -> list[bytes]:
        return [base64.b64decode(image, validate=True) for image in images]


class ReplyAnswerSerializer(MessageSerializer):
    answered = serializers.SerializerMethodField(help_text="The buyer messages this reply answered.")

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_answered(self, reply) -> list[str]:
        return list(reply.answered.order_by("at", "id").values_list("platform_id", flat=True))


# --- return addresses (SPEC §3) ---------------------------------------------------------------


class ReturnAddressSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Names the address in paths and in a case's agree body.")
    receiver = serializers.CharField()
    phone = serializers.CharField()
    province = serializers.CharField()
    city = serializers.CharField()
    district = serializers.CharField()
    region = serializers.CharField(help_text="province/city/district.")
    detail = serializers.CharField()
    default = serializers.BooleanField(source="is_default")
    created_at = serializers.DateTimeField()
    changed_at = serializers.DateTimeField()


class ReturnAddressListSerializer(serializers.Serializer):
    results = ReturnAddressSerializer(many=True)


class AddressFieldsSerializer(serializers.Serializer):
    receiver = TextField(max_length=100, validators=[SOME_TEXT])
    phone = TextField(max_length=32, trim_whitespace=False, validators=[PHONE, validate_phone])
    province = TextField(max_length=50, validators=[SOME_TEXT])
    city = TextField(max_length=50, validators=[SOME_TEXT])
    district = TextField(max_length=50, validators=[SOME_TEXT])
    detail = TextField(max_length=255, validators=[SOME_TEXT])


class AddressCreateSerializer(AddressFieldsSerializer):
    default = serializers.BooleanField(
        required=False, default=False, help_text="Make it the default (the shop's first address is anyway)."
    )


class AddressEditSerializer(AddressFieldsSerializer):
    """Any of the fields; those not sent keep their value. An edit never reaches cases agreed
    before: each keeps the copy it took."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)


class EmptySerializer(serializers.Serializer):
    pass


# --- out of stock (SPEC §7.3) -----------------------------------------------------------------


class CouponSerializer(serializers.Serializer):
    code = serializers.CharField()
    face_value = serializers.DecimalField(**MONEY)
    expires_at = serializers.DateTimeField()


class ChargeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ChargeKind.choices)
    order = serializers.CharField(source="order.platform_id", allow_null=True, default=None)
    violation = serializers.CharField(source="violation.platform_id", allow_null=True, default=None)
    message = serializers.CharField(help_text="late_reply: the buyer message that started the clock.")
    buyer = serializers.CharField()
    amount = serializers.DecimalField(**MONEY)
    from_deposit = serializers.DecimalField(**MONEY)
    from_balance = serializers.DecimalField(**MONEY)
    arrears = serializers.DecimalField(**MONEY, help_text="What the deposit and goods balance could not cover.")
    coupon = CouponSerializer(allow_null=True, help_text="What the buyer received.")
    at = serializers.DateTimeField(help_text="Issued, or for an automatic charge its due moment.")


class OutOfStockSerializer(serializers.Serializer):
    order = serializers.CharField(source="platform_id")
    out_of_stock_at = serializers.DateTimeField()
    compensation = serializers.SerializerMethodField()

    @extend_schema_field(ChargeSerializer(allow_null=True))
    def get_compensation(self, order) -> dict | None:
        charge = self.context["charge"]
        return None if charge is None else ChargeSerializer(charge).data


# --- money (SPEC §6.1) ------------------------------------------------------------------------


class ChargeQuerySerializer(QuerySerializer):
    kind = serializers.ChoiceField(choices=ChargeKind.choices, required=False)
    cursor = cursor_field()
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500)


class LedgerAccountSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AccountKind.choices)
    balance = serializers.DecimalField(
        **MONEY, help_text="The sum of its ledger rows (arrears: negative, what the shop owes)."
    )


class AccountsSerializer(serializers.Serializer):
    shop = serializers.CharField(source="platform_id")
    deposit = serializers.DecimalField(**MONEY)
    balance = serializers.DecimalField(**MONEY, help_text="The goods balance.")
    arrears = serializers.DecimalField(source="owed", **MONEY, help_text="What the shop owes (≥ 0).")
    accounts = LedgerAccountSerializer(source="ledger_accounts", many=True)


# --- metrics (SPEC §5, §5.2) ------------------------------------------------------------------


class DayQuerySerializer(QuerySerializer):
    date = serializers.DateField(
        required=False, help_text="The day D (Asia/Shanghai), YYYY-MM-DD; default yesterday, the last complete day."
    )


class MetricsSerializer(serializers.Serializer):
    date = serializers.DateField()
    window_days = serializers.IntegerField()
    shop = serializers.CharField()
    grouped_orders = serializers.IntegerField()
    dispute_refund_orders = serializers.IntegerField()
    quality_refund_orders = serializers.IntegerField()
    intervention_orders = serializers.IntegerField()
    logistics_anomaly_orders = serializers.IntegerField()
    dispute_refund_rate = serializers.DecimalField(**RATE)
    quality_refund_rate = serializers.DecimalField(**RATE)
    intervention_rate = serializers.DecimalField(**RATE)
    logistics_anomaly_rate = serializers.DecimalField(**RATE)


class ForecastGoodsSerializer(serializers.Serializer):
    goods = serializers.CharField()
    level = serializers.ChoiceField(choices=[str(level) for level in LEVELS], help_text="The flag reached.")
    date = serializers.DateField(help_text="The first day it is reached.")
    cases = serializers.ListField(child=serializers.CharField(), help_text="The open cases that would cause it.")


class ForecastSerializer(serializers.Serializer):
    date = serializers.DateField()
    days = serializers.IntegerField(help_text=f"Days projected after D ({FORECAST_DAYS}).")
    goods = ForecastGoodsSerializer(many=True)
