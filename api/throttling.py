"""The per-key rate limit (API_RATE_LIMIT, e.g. "600/min"): DRF's throttle keyed by the API key,
so one ERP's burst never slows another shop's. Counts live in Django's cache (the default local
memory cache: per process; configure a shared cache to make it global)."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self) -> str:
        # Read per request, not at import, so the setting can be changed (tests, a reload).
        return settings.API_RATE_LIMIT

    def get_cache_key(self, request, view) -> str | None:
        key = getattr(request, "auth", None)
        if key is None:
            return None  # refused before the throttle anyway
        return self.cache_format % {"scope": self.scope, "ident": key.pk}
