"""Operators' commands print what they did, not framework warnings."""

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_system_checks_including_the_database_ones_are_clean():
    out = io.StringIO()
    call_command("check", "--database", "default", stdout=out, stderr=out)
    assert "System check identified no issues" in out.getvalue()
