import pytest


@pytest.fixture(autouse=True)
def english(settings):
    # Assertions read the English source strings; test_i18n checks the Chinese catalogue.
    settings.LANGUAGE_CODE = "en"
