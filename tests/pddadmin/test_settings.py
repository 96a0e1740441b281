"""The settings' environment readers: a switch says yes or no, or the process does not start."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from pddadmin.settings import envbool


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "True", "yes", "Yes", "on", "ON", " on "])
def test_true_words(monkeypatch, value):
    monkeypatch.setenv("PDD_TEST_SWITCH", value)
    assert envbool("PDD_TEST_SWITCH", False) is True


@pytest.mark.parametrize("value", ["0", "false", "FALSE", "False", "no", "NO", "off", "Off", " 0 "])
def test_false_words(monkeypatch, value):
    monkeypatch.setenv("PDD_TEST_SWITCH", value)
    assert envbool("PDD_TEST_SWITCH", True) is False


@pytest.mark.parametrize("value", [None, "", "   "])
@pytest.mark.parametrize("default", [True, False])
def test_unset_or_empty_is_the_default(monkeypatch, value, default):
    if value is None:
        monkeypatch.delenv("PDD_TEST_SWITCH", raising=False)
    else:
        monkeypatch.setenv("PDD_TEST_SWITCH", value)
    assert envbool("PDD_TEST_SWITCH", default) is default


@pytest.mark.parametrize("value", ["flase", "2", "y", "n", "enabled", "-1", "truee", "oui"])
def test_a_value_it_does_not_understand_is_refused_naming_variable_and_value(monkeypatch, value):
    monkeypatch.setenv("PDD_TEST_SWITCH", value)
    with pytest.raises(ImproperlyConfigured) as refused:
        envbool("PDD_TEST_SWITCH", False)
    assert f"PDD_TEST_SWITCH={value!r} is not a boolean" in str(refused.value)


def test_the_project_does_not_start_with_a_misspelt_switch():
    env = {**os.environ, "SECURE_SSL_REDIRECT": "ture"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT='ture' is not a boolean" in result.stderr
