import datetime as dt
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import CreditKind


class ExplanationForm(forms.Form):
    text = forms.CharField(label=_("Explanation"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000)
    image = forms.ImageField(label=_("Evidence image"), required=False)
    url = forms.URLField(label=_("Evidence image address"), required=False, assume_scheme="https")
    evidence_note = forms.CharField(label=_("Evidence note"), required=False, max_length=255)


class RulingForm(forms.Form):
    breach = forms.TypedChoiceField(
        label=_("Ruling"),
        choices=[("1", _("Breach: pay ¥100 per order")), ("0", _("No breach"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class CreditForm(forms.Form):
    """A settlement or a deposit payment recorded by platform staff (SPEC §6.1); the service
    (`credits.shop_credit`) decides whether it may be recorded."""

    kind = forms.ChoiceField(label=_("Kind"), choices=CreditKind.choices, widget=forms.RadioSelect)
    amount = forms.DecimalField(label=_("Amount (¥)"), min_value=Decimal("0.01"), max_digits=14, decimal_places=2)
    at = forms.DateTimeField(
        label=_("Time"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Leave empty for now. Not in the future, and not before the shop's last money movement."),
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=255)
    # One per form shown: a second post of the same form (a double click, a resent request)
    # is recognised and records nothing.
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, now: dt.datetime, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.now = now

    def clean_at(self) -> dt.datetime:
        at = self.cleaned_data["at"] or self.now
        if at > self.now:
            # A credit stamped in the future would make every later event of the shop "older".
            raise forms.ValidationError(_("The time is in the future."))
        return at
