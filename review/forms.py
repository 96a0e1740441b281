"""Forms of the review pages: they only parse input; the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from aftersales.models import Liable
from compensation.models import ViolationReason

LIABLE_CHOICES = [
    (Liable.MERCHANT, _("Merchant liable: refund the buyer")),
    (Liable.BUYER, _("Buyer liable: close the case, ruled for the merchant")),
]


class RuleForm(forms.Form):
    liable = forms.ChoiceField(label=_("ruling"), choices=LIABLE_CHOICES, widget=forms.RadioSelect)
    note = forms.CharField(
        label=_("ruling note"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_("Required. Shown to both sides and kept in the case log."),
    )


class ShortenDeadlineForm(forms.Form):
    due_at = forms.DateTimeField(
        label=_("new merchant deadline"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Not less than 24 hours from now (SPEC §2.2)."),
    )


class WarrantyReportForm(forms.Form):
    """A buyer's national-warranty complaint that reached a reviewer outside the feed."""

    orders = forms.CharField(
        label=_("Order ids"),
        help_text=_("One or more orders of one shop, separated by spaces, commas or new lines, in the buyer's order."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    reason = forms.ChoiceField(label=_("Reason"), choices=ViolationReason.choices)
    complaint = forms.CharField(label=_("Buyer's complaint"), widget=forms.Textarea(attrs={"rows": 4}),
                                required=False, max_length=4000)

    def clean_orders(self) -> list[str]:
        ids = [part for part in self.cleaned_data["orders"].replace(",", " ").split() if part]
        if not ids:
            raise forms.ValidationError(_("Enter at least one order id."))
        return list(dict.fromkeys(ids))
