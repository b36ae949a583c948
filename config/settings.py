"""Settings, read from the environment through django-environ.

Every setting has an embedded default that runs on one machine with nothing installed
(SQLite under var/, in-memory channel layer, local-memory cache). Production values come
from the environment; see docs/configuration.md.
"""

import logging
import warnings
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

# Off unless asked for: `make run` sets DEBUG=1 for the local demo (docs/configuration.md).
DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
    "django_htmx",
    "channels",
    "audit",
    "accounts",
    "providers",
    "secrets_vault",
    "health",
    "console",
    "operations",
    "alerts",
]

MIDDLEWARE = [
    # Outermost: times and logs every response, and gives log lines their request (core/accesslog.py).
    "core.accesslog.AccessLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files answer here, before sessions, users and no-store (their own cache headers).
    "core.static.StaticFilesMiddleware",  # WhiteNoise, async-capable (core/static.py)
    "csp.middleware.CSPMiddleware",
    "audit.middleware.RequestIdMiddleware",
    "core.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Refuses sign-ins after too many failures; last, as django-axes asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.role",
            ],
        },
    },
    {
        # The provider cards only (console/cards.py): thousands per page, Jinja2 draws them
        # several times faster than the Django template language.
        "NAME": "jinja2",
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"environment": "console.jinja.environment", "autoescape": True},
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Reusing PostgreSQL connections (docs/performance.md, "Database connections"). Under daphne,
# each request's sync code runs on a thread of its own, and connections are per thread: with
# Django's own handler (a new thread per request) CONN_MAX_AGE kept nothing for the next request
# (20 requests, 20 backends). core/handler.py now gives a finished request's thread to the next
# one, so a persistent connection would be reused, but it would still be one connection per
# thread, as many as requests at once, and the websockets' database_sync_to_async calls would
# keep their own. A psycopg pool per process bounds them all: a request borrows a connection and
# gives it back when it ends, and so does each websocket call. Django refuses CONN_MAX_AGE with a
# pool.
_IS_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")
DATABASE_POOL = _IS_POSTGRES and env.bool("DATABASE_POOL", default=True)
# With the pool, Django hands CONN_HEALTH_CHECKS to it as its check: a connection the server
# dropped (restart, idle timeout) is replaced before it is lent, not given to a request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=_IS_POSTGRES)
if DATABASE_POOL:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
        # How long a request waits for a free connection before it fails.
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
else:
    # SQLite: each request thread keeps its connection (opening one and setting WAL cost daphne
    # ~1.5 ms a request: docs/performance.md); a file connection is cheap to keep.
    _IS_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60 if _IS_SQLITE else 0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serving a web site: concurrent writers queue instead of failing with "database is
    # locked". WAL lets readers run beside the one writer; IMMEDIATE takes the write lock when
    # a transaction begins (a deferred one that reads first cannot wait for it later: it fails
    # at once); the timeout is how long a writer waits for the lock (SQLite's busy timeout).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": env.float("SQLITE_TIMEOUT", default=20.0),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
# Channel layers: how many messages may wait for one consumer (the layers' default of 100 is
# dropped silently beyond) and how many seconds a message waits before it expires. Audit events
# are sent as one group message per broadcast round (audit/broadcast.py), so a console falls
# behind by CHANNEL_CAPACITY rounds, not events, before anything is lost.
CHANNEL_CAPACITY = env.int("CHANNEL_CAPACITY", default=1000)
CHANNEL_EXPIRY = env.int("CHANNEL_EXPIRY", default=60)
_CHANNEL_LIMITS = {"capacity": CHANNEL_CAPACITY, "expiry": CHANNEL_EXPIRY}
# How often an open events websocket's access is read again (sign-out, deactivation, role).
EVENTS_ACCESS_RECHECK_SECONDS = env.float("EVENTS_ACCESS_RECHECK_SECONDS", default=1.0)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # A bounded connect, so an unreachable Redis fails a broadcast in a second
                # instead of hanging it (no read timeout: the layer blocks on reads by design).
                "hosts": [{"address": REDIS_URL, "socket_connect_timeout": 1.0}],
                "prefix": env.str("CHANNEL_PREFIX", default="asgi"),
                **_CHANNEL_LIMITS,
            },
        }
    }
    CACHES = {
        "default": {
            # A Redis failure is a cache miss, logged once per outage, never an error
            # (core/cache.py); short socket timeouts so an unreachable Redis costs at most 1 s.
            "BACKEND": "core.cache.FailSafeRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_PREFIX", default="pc"),
            "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": _CHANNEL_LIMITS}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# What the audit stream asks for a user's role (`audit` imports no other app; roles are accounts').
AUDIT_ROLE_OF = "accounts.roles.role_of"

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out user name + address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row; anonymous requests get nothing

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Sign-in rate limit (django-axes) ---
# After AXES_FAILURE_LIMIT failed sign-ins for one user name from one address, that pair is
# refused for AXES_COOLOFF_MINUTES (even with the right password); an admin unlocks it earlier
# in the Django admin (Axes › Access attempts) or with `manage.py axes_reset_username NAME`.
# Bearer tokens and existing sessions are not affected.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
# The address is the connection's (REMOTE_ADDR); behind a reverse proxy run daphne with
# --proxy-headers so it is the client's, not the proxy's.
AXES_VERBOSE = False  # our own audit row (auth.login_failed) records each failure

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# --- HTTPS in production (docs/configuration.md, "Production") ---
# Off unless asked for, so `make run` and the tests keep plain http on 127.0.0.1.
# Behind a proxy that terminates TLS, the proxy's X-Forwarded-Proto says whether the client
# used https; trusted only when BEHIND_TLS_PROXY says the proxy sets (and overwrites) it.
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# A load balancer probes these over plain http (operations/urls.py).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)

# --- Content Security Policy (django-csp; docs/configuration.md, "Content Security Policy") ---
# Scripts, styles, images and fonts from the site only; no inline script anywhere. 'self' in
# connect-src covers the same origin's ws:/wss: (CSP Level 3; tests/test_browser_csp.py proves
# it in Chromium), so the events websocket needs no scheme-wide ws:/wss: source. Style
# attributes are refused too, except on the browsable API's pages, whose DRF templates carry a
# few (core/renderers.py allows them there).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
# Static files are served by WhiteNoise (no separate server needed). In production the files
# `manage.py collectstatic` wrote: hashed names (cached for a year), gzip copies. With
# STATIC_MANIFEST off (DEBUG, `make run`, the tests' site processes) the apps' static
# directories are served as they are and nothing needs collecting.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
if not STATIC_MANIFEST:
    # Nothing is collected into STATIC_ROOT then, by design; WhiteNoise would warn at each start.
    warnings.filterwarnings("ignore", message="No directory at: ", category=UserWarning)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "core.renderers.BrowsableAPIRenderer",
    ],
    # DRF's three parsers, JSON with a nesting limit (a body nested 1,000 levels deep is a
    # 400, not a RecursionError).
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
    "EXCEPTION_HANDLER": "core.exceptions.exception_handler",
    # Scoped throttles on the endpoints that cost more than a read: probes reach out to
    # providers, secret actions write the vault. Over the rate: 429 with Retry-After.
    "DEFAULT_THROTTLE_RATES": {
        "probes": env.str("THROTTLE_PROBES", default="60/min"),
        "secrets": env.str("THROTTLE_SECRETS", default="60/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Provider console API",
    "DESCRIPTION": "Configure LLM inference providers, their encrypted credentials, health checks and the routing chain.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request and response shapes apart (`ProviderRequest` has no read-only fields), and JSON
    # bodies only: the form parsers serve the browsable API's HTML forms, not integrators.
    "COMPONENT_SPLIT_REQUEST": True,
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # One name per set of values that several fields share.
    "ENUM_NAME_OVERRIDES": {
        "ProviderStatusEnum": "providers.models.Status",
        # A status as providers.serializers.StatusField reads it (values, no labels), shared by
        # the provider and GET /api/config's providers; unnamed, it collides with the above and
        # drf-spectacular's warning fails `check --deploy --fail-level WARNING`.
        "ProviderStatusValueEnum": ["active", "standby", "degraded", "unreachable", "disabled"],
        "OperatorStatusEnum": "providers.models.OPERATOR_STATUSES",
        "CheckStatusEnum": ["pass", "fail"],
        "SecretActionEnum": "secrets_vault.models.SecretAction",
        "SecretValueActionEnum": ["set", "rotate"],
        "SecretClearActionEnum": ["clear"],
        "SecretRestoreActionEnum": ["restore"],
        # The alerts API's choices share field names with the providers' (kind, status, action).
        "KindEnum": "providers.models.Kind",
        "AlertChannelKindEnum": "alerts.models.ChannelKind",
        "DeliveryStatusEnum": "alerts.models.DeliveryStatus",
        "WebhookSecretActionEnum": ["set", "rotate", "clear"],
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Secrets vault (secrets_vault/) ---
# Comma-separated "kid:base64-32-byte-key"; the first encrypts, all decrypt. Separate from SECRET_KEY.
VAULT_KEYS = env.str("VAULT_KEYS", default="")
VAULT_KEY_FILE = Path(env.str("VAULT_KEY_FILE", default=str(VAR_DIR / "vault.keys")))
VAULT_RETENTION_DAYS = env.int("VAULT_RETENTION_DAYS", default=30)
VAULT_CREDENTIAL_CACHE_SECONDS = env.int("VAULT_CREDENTIAL_CACHE_SECONDS", default=60)
# Error reports (the DEBUG page included) hide what the vault marks sensitive: keys, values.
DEFAULT_EXCEPTION_REPORTER_FILTER = "secrets_vault.debug.AlwaysSafeExceptionReporterFilter"

# --- Health checks (health/) ---
HEALTH_HISTORY_TTL_DAYS = env.int("HEALTH_HISTORY_TTL_DAYS", default=30)
# Probes of one Run all at once: greenlets on one event loop, so the cost of each is a socket
# (a file descriptor), not a thread (docs/performance.md, "Run all checks").
PROBE_MAX_CONCURRENCY = env.int("PROBE_MAX_CONCURRENCY", default=1000)
# The probes' event loop: "uvloop" (libuv; about a fifth less CPU per probe) or "asyncio".
PROBE_EVENT_LOOP = env.str("PROBE_EVENT_LOOP", default="uvloop")
if PROBE_EVENT_LOOP not in ("uvloop", "asyncio"):
    raise ImproperlyConfigured(f"PROBE_EVENT_LOOP={PROBE_EVENT_LOOP!r}: use uvloop or asyncio.")
PROBE_MAX_RESPONSE_BYTES = env.int("PROBE_MAX_RESPONSE_BYTES", default=1_048_576)
# Networks no probe may connect to, checked on the resolved address (and on the IPv4 address
# inside IPv4-mapped, NAT64 and 6to4 IPv6 addresses). Link-local and cloud metadata by default
# (AWS IPv6 fd00:ec2::254, Alibaba 100.100.100.200); add private ranges with
# PROBE_DENIED_NETWORKS_EXTRA.
PROBE_DENIED_NETWORKS = env.list(
    "PROBE_DENIED_NETWORKS", default=["169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32"]
) + env.list(
    "PROBE_DENIED_NETWORKS_EXTRA", default=[]
)
# A PEM file of CA certificates that replaces the default bundle (certifi) for probes, for
# providers behind an internal CA. Certificates are always verified.
PROBE_CA_BUNDLE = env.str("PROBE_CA_BUNDLE", default="")
if PROBE_CA_BUNDLE and not Path(PROBE_CA_BUNDLE).is_file():
    raise ImproperlyConfigured(f"PROBE_CA_BUNDLE={PROBE_CA_BUNDLE} is not a file; name a PEM file of CA certificates.")
HEALTH_DEGRADED_SUCCESS_RATE = env.float("HEALTH_DEGRADED_SUCCESS_RATE", default=0.8)
# How long GET /api/providers may reuse an answer while the chain version (every provider,
# secret and health change) is unchanged: the health windows move with the clock alone.
# 0 turns the reuse off (console/listcache.py).
PROVIDER_LIST_CACHE_SECONDS = env.float("PROVIDER_LIST_CACHE_SECONDS", default=2.0)

# --- Alerts (alerts/, docs/alerts.md) ---
# The site's address as operators reach it: the link to a provider in a Slack message or email.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# A delivery that fails is tried again after ALERT_RETRY_BASE_SECONDS, then twice that, … (at
# most ALERT_RETRY_MAX_SECONDS apart), ALERT_MAX_ATTEMPTS tries in all; then it is `failed`.
ALERT_MAX_ATTEMPTS = env.int("ALERT_MAX_ATTEMPTS", default=6)
ALERT_RETRY_BASE_SECONDS = env.float("ALERT_RETRY_BASE_SECONDS", default=30.0)
ALERT_RETRY_MAX_SECONDS = env.float("ALERT_RETRY_MAX_SECONDS", default=3600.0)
# One webhook or Slack request's deadline (through the probes' HTTP seam, health/http.py).
ALERT_TIMEOUT_MS = env.int("ALERT_TIMEOUT_MS", default=5000)
# A deliverer holds a delivery while it sends it for ALERT_TIMEOUT_MS plus this margin; one that
# dies mid-send leaves it to another deliverer once the claim has run out.
ALERT_CLAIM_MARGIN_SECONDS = env.float("ALERT_CLAIM_MARGIN_SECONDS", default=30.0)
# How often `deliver_alerts` (and the checker between its rounds) looks for alerts to send.
ALERT_POLL_SECONDS = env.float("ALERT_POLL_SECONDS", default=2.0)
# Email alerts go through Django's email backend: the console by default; EMAIL_URL
# (smtp://user:password@host:587/?tls=True, django-environ's form) for SMTP.
_email = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(_email)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="provider-console@localhost")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# --- Prometheus (operations/metrics_view.py, docs/metrics.md) ---
# The scraper's bearer token for GET /metrics (no user behind it); empty: only viewers' and
# admins' sign-ins and API tokens are let in.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- Logging ---
# Every handler carries the vault's masking filter (secrets_vault/logging_filter.py), so no
# secret value or credential-shaped string reaches a log, whichever logger emitted it. Django's
# own loggers are redefined here so their default handlers (which lack the filter) are replaced.
# LOG_FORMAT=json writes one JSON object per line (core/jsonlog.py). The request's id, user and
# path are added to each record (core/logcontext.py) before the masking filter, which masks
# them with the rest.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use 'plain' or 'json'.")
if LOG_FORMAT == "json":
    # Python's warnings would print as plain lines on stderr: through logging (`py.warnings`)
    # they are JSON lines like the rest.
    logging.captureWarnings(True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "core.logcontext.RequestContextFilter"},
        "mask_secrets": {"()": "secrets_vault.logging_filter.SecretMaskingFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "core.jsonlog.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_context", "mask_secrets"]},
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false", "mask_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": ["mail_admins"], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "urllib3": {"level": "WARNING"},
        "django.db.backends": {"level": "INFO"},
    },
}
