"""The WSGI entry point leaves the loaded application out of the collector's full passes."""

import gc
import importlib
import sys


def test_the_wsgi_module_freezes_what_the_loaded_application_holds():
    gc.unfreeze()
    sys.modules.pop("pddadmin.wsgi", None)
    try:
        module = importlib.import_module("pddadmin.wsgi")
        assert callable(module.application)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
