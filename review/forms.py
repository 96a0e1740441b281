"""Forms of the review pages: they only parse input; the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Liable

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
