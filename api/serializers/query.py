"""Query strings as the API reads them: what is sent says something."""

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

# The cursors the API gives are URL-safe base64 without padding (api.pagination); the pattern
# says so in the description, and a cursor of that alphabet the API did not give is not_found.
CURSOR = RegexValidator(r"^[A-Za-z0-9_-]+$", _("Not a cursor this API gave."))


def cursor_field() -> serializers.CharField:
    return serializers.CharField(
        required=False, max_length=200, validators=[CURSOR], help_text="`next_cursor` of the previous page."
    )


class QuerySerializer(serializers.Serializer):
    """A parameter the operation does not have is refused, not ignored: a misspelt filter
    (`stat=pending`) would otherwise answer every case as if it had filtered. An empty value is
    refused too, not read as absent."""

    def to_internal_value(self, data):
        errors = {name: [_("Unknown query parameter.")] for name in data if name not in self.fields}
        errors |= {name: [_("This field may not be blank.")] for name in self.fields if data.get(name, None) == ""}
        errors |= self.query_errors(data) if not errors else {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({**error.detail, **errors}) from None
        if errors:
            raise serializers.ValidationError(errors)
        return value

    def query_errors(self, data) -> dict:
        """Checks of one operation's parameters beyond their fields (field → messages)."""
        return {}
