"""Admin test helpers shared by tests/shops and tests/aftersales."""

from django.conf import settings
from django.contrib.messages import get_messages
from django.test import Client


def client_for(user, language: str = "en") -> Client:
    client = Client()
    # The factory sets the password on the instance only; log in as the stored row, or the
    # session hash (derived from the password) would not match and the session be dropped.
    client.force_login(type(user).objects.get(pk=user.pk))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def listed(response) -> set:
    """Primary keys of the rows a changelist response shows."""
    assert response.status_code == 200, response.status_code
    return {obj.pk for obj in response.context["cl"].result_list}


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]
