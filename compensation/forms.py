from django import forms
from django.utils.translation import gettext_lazy as _


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
