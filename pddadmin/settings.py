"""pddadmin settings: one module, every switch an environment variable with a safe local default."""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
(VAR_DIR / "static").mkdir(parents=True, exist_ok=True)  # SQLite default, demo files, collected static


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def envbool(name: str, default: bool) -> bool:
    """A switch: true/false, 1/0, yes/no, on/off (any case); unset or empty is the default.
    Anything else stops the start: a typo in a security switch must not quietly mean "off"."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name}={os.environ[name]!r} is not a boolean: use true/false, 1/0, yes/no or on/off"
    )


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "django-insecure-local-development-only"  # local development only
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_filters",
    "django_tables2",
    "django_q",
    "pddadmin.shops",
    "pddadmin.feed",
    "aftersales",
    "metrics",
    "compensation",
    "customerservice",
    "review",
    "pddadmin.jobs",
]
# SPEC §7.2: links to these domains and their subdomains may stand in a merchant reply.
PLATFORM_DOMAINS = envlist("PLATFORM_DOMAINS", "pinduoduo.com,yangkeduo.com")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pddadmin.urls"
WSGI_APPLICATION = "pddadmin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pddadmin.navigation.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=envint("CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE makes concurrent writers queue on the lock instead of failing mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("SQLITE_TEST_NAME") or None}
    # Covering indexes (INCLUDE) are a PostgreSQL speed-up; SQLite builds them without the extra
    # columns, which is all it can do. Without this, every command would print that warning.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
# Dates and times read alike in Chinese and English (pddadmin/timefmt.py says why).
FORMAT_MODULE_PATH = ["pddadmin.formats"]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": os.environ.get(
            "STATICFILES_BACKEND", "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_URL = "media/"
MEDIA_ROOT = VAR_DIR / "media"

LOGIN_URL = "admin:login"
# Where a login goes when its `next` is missing or refused (another site's address): the root, which
# sends each role to its home; Django's default, /accounts/profile/, is no page here.
LOGIN_REDIRECT_URL = "home"

# Production hardening follows DEBUG so `check --deploy` is clean with production-like variables.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if envbool("BEHIND_PROXY", False) else None

# django-q2: the ORM broker by default, Redis when REDIS_URL is set.
Q_CLUSTER = {
    "name": "pddadmin",
    "workers": envint("Q_WORKERS", 2),
    "timeout": envint("Q_TIMEOUT", 600),
    "retry": envint("Q_RETRY", 900),
    "catch_up": False,
    "orm": "default",
}
if os.environ.get("REDIS_URL"):
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = os.environ["REDIS_URL"]

# After-sales rules that the platform may tune (SPEC §5: "decided here; configurable").
GOODS_RESTRICTION_CONSECUTIVE_DAYS = envint("GOODS_RESTRICTION_CONSECUTIVE_DAYS", 3)
# Lines per importer transaction: 5,000 took a mixed feed 15% and an order feed 20% less time than
# 1,000 (fewer statements and commits; bench/import_events), for a few MB more held at once.
FEED_BATCH_SIZE = envint("FEED_BATCH_SIZE", 5000)
# Hours a merchant has to explain a national-warranty report before reviewers rule (decided here).
WARRANTY_EXPLANATION_HOURS = envint("WARRANTY_EXPLANATION_HOURS", 48)
# SPEC §6.2: a warranty compensation reaches the buyer as a coupon valid 50 years.
WARRANTY_COUPON_YEARS = 50
# SPEC §7.3 (decided there: the seeds leave the figures to platform rules): paid amount × rate,
# rounded half up to the cent, within [minimum, maximum]; the coupon is valid 30 days of 24 h.
SHIPPING_COMPENSATION = {
    "late_shipment": {"rate": "0.05", "minimum": "3.00", "maximum": "100.00"},
    "out_of_stock": {"rate": "0.10", "minimum": "5.00", "maximum": "200.00"},
}
SHIPPING_COUPON_DAYS = envint("SHIPPING_COUPON_DAYS", 30)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# The open API for merchants' ERPs (SPEC §10, api/): Django REST framework, keys of
# djangorestframework-api-key, the OpenAPI description by drf-spectacular, Swagger UI and Redoc
# from drf-spectacular-sidecar's static files (nothing loaded from the internet).
INSTALLED_APPS += ["rest_framework", "rest_framework_api_key", "drf_spectacular", "drf_spectacular_sidecar", "api"]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.auth.KeyRolePermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.UpdatedCursorPagination",
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "api.problems.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "pddadmin open API",
    "DESCRIPTION": (
        "The back-office's API for merchants' ERPs (SPEC §10). Authenticate with `Authorization: Api-Key <key>`; "
        "every write needs an `Idempotency-Key` header; errors are RFC 9457 problem documents "
        "(`application/problem+json`) with a stable `code`, in the language of `Accept-Language` "
        "(`zh-Hans`, the default, or `en`)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CaseState": "aftersales.models.choices.State",
        "CaseKind": "aftersales.models.choices.Kind",
        "ChargeKind": "compensation.models.ChargeKind",
        "AccountKind": "compensation.models.AccountKind",
    },
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.add_problems"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600/min")  # per key
API_MAX_BODY_BYTES = envint("API_MAX_BODY_BYTES", 64 * 1024)
API_IDEMPOTENCY_TTL = envint("API_IDEMPOTENCY_TTL", 24 * 3600)  # seconds an Idempotency-Key is kept
API_PAGE_SIZE = envint("API_PAGE_SIZE", 100)  # rows of a list page unless page_size asks fewer
# Rows changed this recently are held back from lists: longer than a write transaction lasts, so
# a cursor never passes a row still to be committed (api/pagination.py).
API_SYNC_SETTLE_SECONDS = envint("API_SYNC_SETTLE_SECONDS", 30)
