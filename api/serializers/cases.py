"""After-sales cases as the API shows them, and the bodies of the merchant's transitions."""

from decimal import Decimal

from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from aftersales.models import Actor, AfterSalesCase, CloseReason, Kind, Reason, ReturnAddress, State

from .query import QuerySerializer, cursor_field

CENT = Decimal("0.01")

# A refusal or tracking number must say something (SPEC §2.3 "reason text required"): blank is
# refused here already, and the pattern tells clients so in the schema.
# Not `\S`: a client reads the pattern with ECMA-262's whitespace, Python strips its own (also
# \x1c-\x1f and \x85; ECMA adds \ufeff), so the pattern asks for a character neither calls space;
# and no NUL anywhere, which DRF refuses (PostgreSQL could not store it).
SOME_TEXT = RegexValidator(r"^[^\x00]*[^\s\x00\x1c-\x1f\x85\ufeff][^\x00]*$", _("This field may not be blank."))


class TextField(serializers.CharField):
    """Text the client sends: a JSON string, nothing else. DRF's CharField turns a number into its
    digits (a `district` of -2.5e-50 was stored); the schema says string, so a number is refused. Its
    maxLength holds for the text as sent: DRF measured it after trimming the white space."""

    default_error_messages = {"not_text": _("Expected text, got %(kind)s.")}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_text", kind=type(data).__name__)
        if self.max_length is not None and len(data) > self.max_length:  # as sent, before trimming
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class ReturnAddressCopySerializer(serializers.Serializer):
    receiver = serializers.CharField()
    phone = serializers.CharField()
    region = serializers.CharField()
    detail = serializers.CharField()


class CaseTransitionSerializer(serializers.Serializer):
    transition = serializers.CharField()
    from_state = serializers.CharField(help_text="Empty for the opening.")
    to_state = serializers.ChoiceField(choices=State.choices)
    actor = serializers.ChoiceField(source="actor_kind", choices=Actor.choices)
    at = serializers.DateTimeField()
    note = serializers.CharField()


class CaseSerializer(serializers.Serializer):
    id = serializers.CharField(source="platform_id", help_text="The platform's case id.")
    order = serializers.CharField(source="order.platform_id", help_text="The platform's order id.")
    kind = serializers.ChoiceField(choices=Kind.choices)
    reason = serializers.ChoiceField(choices=Reason.choices)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    state = serializers.ChoiceField(choices=State.choices)
    opened_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField(allow_null=True, help_text="When the automatic transition falls due.")
    refused_at = serializers.DateTimeField(allow_null=True)
    agreed_at = serializers.DateTimeField(allow_null=True)
    return_shipped_at = serializers.DateTimeField(allow_null=True)
    return_tracking = serializers.CharField()
    reship_tracking = serializers.CharField()
    escalated_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    close_reason = serializers.ChoiceField(choices=CloseReason.choices, allow_blank=True)
    buyer_statement = serializers.CharField()
    merchant_statement = serializers.CharField()
    return_address = serializers.SerializerMethodField()
    changed_at = serializers.DateTimeField(help_text="The moment of the last transition (SPEC time).")
    updated_at = serializers.DateTimeField(help_text="When the case was last written; lists are ordered by it.")

    # The fields `to_representation` builds directly, by kind of value.
    _MOMENTS = (
        "opened_at",
        "submitted_at",
        "due_at",
        "refused_at",
        "agreed_at",
        "return_shipped_at",
        "escalated_at",
        "resolved_at",
        "changed_at",
        "updated_at",
    )
    _TEXTS = (
        "kind",
        "reason",
        "state",
        "return_tracking",
        "reship_tracking",
        "close_reason",
        "buyer_statement",
        "merchant_statement",
    )

    def to_representation(self, case: AfterSalesCase) -> dict:
        """What DRF's Serializer.to_representation gives for these fields (DateTimeField: ISO 8601
        in the current time zone, +00:00 as Z; DecimalField: the string to the cent), built
        directly: a list page serialises up to 500 cases a call, and DRF's per-field machinery
        was most of a page's time. tests/api/test_cases.py holds the two to the same output.
        Fields a subclass adds (the log) go through DRF as usual."""
        zone = timezone.get_current_timezone()

        def moment(value):
            if value is None:
                return None
            text = value.astimezone(zone).isoformat()
            return text[:-6] + "Z" if text.endswith("+00:00") else text

        data = {"id": case.platform_id, "order": case.order.platform_id}
        for name in self._TEXTS:
            data[name] = getattr(case, name)
        data["amount"] = f"{case.amount.quantize(CENT):f}"
        for name in self._MOMENTS:
            data[name] = moment(getattr(case, name))
        data["return_address"] = self.get_return_address(case)
        for name, field in self.fields.items():
            if name not in data:
                data[name] = field.to_representation(field.get_attribute(case))
        return {name: data[name] for name in self.fields}

    @extend_schema_field(ReturnAddressCopySerializer(allow_null=True))
    def get_return_address(self, case: AfterSalesCase) -> dict | None:
        if not case.return_receiver:
            return None
        return {
            "receiver": case.return_receiver,
            "phone": case.return_phone,
            "region": case.return_region,
            "detail": case.return_detail,
        }


class CaseDetailSerializer(CaseSerializer):
    log = CaseTransitionSerializer(source="transitions.all", many=True)


class CaseListQuerySerializer(QuerySerializer):
    state = serializers.ChoiceField(choices=State.choices, required=False)
    kind = serializers.ChoiceField(choices=Kind.choices, required=False)
    reason = serializers.ChoiceField(choices=Reason.choices, required=False)
    updated_since = serializers.DateTimeField(
        required=False, help_text="Only cases written at or after this moment (ISO 8601 with an offset)."
    )
    cursor = cursor_field()
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500)

    def query_errors(self, data) -> dict:
        # A moment carries its offset (RFC 3339), or which day it meant is a guess.
        since = data.get("updated_since")
        if since and (parse_datetime(since) is None or parse_datetime(since).tzinfo is None):
            return {"updated_since": [_("A date and time with its UTC offset, e.g. 2026-01-02T10:00:00+08:00.")]}
        return {}


class ExpectedStateMixin(serializers.Serializer):
    expected_state = serializers.ChoiceField(
        choices=State.choices,
        required=False,
        help_text="The state the caller saw; if the case is in another one now, the answer is case_changed.",
    )


class AgreeSerializer(ExpectedStateMixin):
    address = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="Id of one of the shop's return addresses (return and exchange); default: the shop's default.",
    )

    def validate_address(self, value: int) -> ReturnAddress:
        address = ReturnAddress.objects.filter(shop_id=self.context["shop"].pk, pk=value).first()
        if address is None:
            raise serializers.ValidationError(_("No such return address of this shop."))
        return address


class ReasonSerializer(ExpectedStateMixin):
    reason = TextField(max_length=2000, validators=[SOME_TEXT])


class TrackingSerializer(ExpectedStateMixin):
    tracking = TextField(max_length=64, validators=[SOME_TEXT])


class ConfirmSerializer(ExpectedStateMixin):
    pass
