import pytest


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # PBKDF2 at a million rounds costs ~0.3 s per user; the concurrency test makes thirty.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def english(settings):
    # Assertions read the English source strings; test_i18n checks the Chinese catalogue.
    settings.LANGUAGE_CODE = "en"
