import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pddadmin.settings")
application = get_wsgi_application()

# What the loaded application holds lives as long as the worker. Frozen (gc.freeze), the collector's
# full passes no longer walk it: on a worker serving the queue and the desk, one request in twenty
# or so paid such a pass (tens of ms, bench/results/pages.md). The views' modules are loaded first,
# so that they are frozen with the rest instead of at the first request.
get_resolver().url_patterns  # noqa: B018 - loads the URLconf and every view module it names
gc.freeze()
