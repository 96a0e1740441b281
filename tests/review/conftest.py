import pytest


@pytest.fixture
def login(client):
    """Sign `user` in. tests/factories.UserFactory sets the password after its save and does not save
    again (skip_postgeneration_save), so the stored hash differs and a plain force_login's session
    is dropped on the next request; saving the password first makes the session stick."""

    def sign_in(user):
        user.save(update_fields=["password"])
        client.force_login(user)
        return user

    return sign_in


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # PBKDF2 at a million rounds costs ~0.3 s per user; the concurrency test makes thirty.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def english(settings):
    # Assertions read the English source strings; test_i18n checks the Chinese catalogue.
    settings.LANGUAGE_CODE = "en"
