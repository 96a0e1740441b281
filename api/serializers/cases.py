"""After-sales cases as the API shows them, and the bodies of the merchant's transitions."""

from django.core.validators import RegexValidator
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from aftersales.models import Actor, AfterSalesCase, CloseReason, Kind, Reason, ReturnAddress, State

from .query import QuerySerializer

# A refusal or tracking number must say something (SPEC §2.3 "reason text required"): blank is
# refused here already, and the pattern tells clients so in the schema.
SOME_TEXT = RegexValidator(r"\S", _("This field may not be blank."))


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
    cursor = serializers.CharField(required=False, help_text="`next_cursor` of the previous page.")
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
    reason = serializers.CharField(max_length=2000, validators=[SOME_TEXT])


class TrackingSerializer(ExpectedStateMixin):
    tracking = serializers.CharField(max_length=64, validators=[SOME_TEXT])


class ConfirmSerializer(ExpectedStateMixin):
    pass
