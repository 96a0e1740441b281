"""The one way tests sign in. UserFactory stores the password hash it is created with, so a plain
force_login holds across requests; the language, when given, is the cookie a browser would send."""

from django.conf import settings
from django.test import Client


def sign_in(client: Client, user, *, language: str | None = None) -> Client:
    client.force_login(user)
    if language:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def signed_in(user, language: str = "en") -> Client:
    """A browser of its own (threads and several users at once), signed in as `user`."""
    return sign_in(Client(), user, language=language)
