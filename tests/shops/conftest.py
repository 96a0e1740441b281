import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def english():
    """Service messages in the source language, so assertions read like the code."""
    with translation.override("en"):
        yield
