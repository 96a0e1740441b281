"""The workbench's reply form (SPEC §7.1, §7.2). What a reply may say is decided by the service
(`message_reply` checks every rule); the form carries what was typed and attached, a token that
makes a second post of the same form (a double click, a resent request) send nothing, and the last
message the page showed, so that a reply is not sent over a message its writer has not read."""

import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from .models import TEXT_LIMIT

# Decided here (SPEC is silent): like a chat app, at most 9 images of at most 5 MB each.
MAX_IMAGES = 9
MAX_IMAGE_BYTES = 5 * 1024 * 1024


class ReplyText(forms.CharField):
    """Line breaks as the text area holds them (LF, where browsers post CRLF), so the offsets of a
    refused part are offsets into the text the agent sees and edits."""

    def to_python(self, value):
        return super().to_python(value).replace("\r\n", "\n").replace("\r", "\n")


class ImagesInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class ImagesField(forms.ImageField):
    """Several images in one input; each one opened and verified by Pillow (ImageField), so the
    QR-code check reads images only."""

    widget = ImagesInput(attrs={"accept": "image/*"})

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(files) > MAX_IMAGES:
            raise ValidationError(
                _("Attach at most %(limit)s images (%(count)s attached).") % {"limit": MAX_IMAGES, "count": len(files)}
            )
        cleaned = []
        for number, upload in enumerate(files, 1):
            if upload.size > MAX_IMAGE_BYTES:
                raise ValidationError(
                    _("Image %(number)s is larger than %(limit)s.")
                    % {"number": number, "limit": filesizeformat(MAX_IMAGE_BYTES)}
                )
            cleaned.append(super().clean(upload, initial))
        return cleaned


class ReplyForm(forms.Form):
    text = ReplyText(
        label=_("Reply"),
        max_length=TEXT_LIMIT,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": _("Write to the buyer…")}),
        error_messages={"required": _("Write a reply first.")},
    )
    images = ImagesField(
        label=_("Images"),
        required=False,
        help_text=_("Optional; images with a QR code are refused."),
    )
    # One per form shown: the reply's id is made of it, so a second post of the same form finds
    # the reply it sent instead of sending another.
    token = forms.RegexField(regex=r"\A[0-9a-f]{32}\Z", widget=forms.HiddenInput)
    # The newest message the page showed (its pk; 0 for none).
    seen = forms.IntegerField(min_value=0, widget=forms.HiddenInput)

    @staticmethod
    def new_token() -> str:
        return uuid.uuid4().hex

    @staticmethod
    def reply_id(token: str) -> str:
        """The platform id of the reply sent by the form with `token`."""
        return f"reply:{token}"
