"""Settings, read from the environment (12-factor).

With no DATABASE_URL / REDIS_URL the same code runs on the embedded default: SQLite, Celery on
the in-process ``memory://`` transport and Channels' in-memory layer (one process, see
``manage.py serve``). With them set: PostgreSQL through psycopg 3 and Redis as Celery broker,
cache, rate-limit store and channels-redis layer.
"""

import ipaddress
import os
import sys
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
# Local files (the embedded SQLite database, collected static files, demo state). Made at start-up
# (mission_control.apps), not here: importing settings has no side effects.
VAR_DIR = Path(os.environ.get("MC_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
TESTING = "pytest" in sys.modules or env_bool("MC_TESTING", False)

_INSECURE_KEY = "django-insecure-dev-only-key-do-not-use-in-production-0123456789abcdef"
SECRET_KEY = os.environ.get("SECRET_KEY", _INSECURE_KEY if DEBUG or TESTING else "")
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY must be set when DEBUG=0.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
EMBEDDED = not DATABASE_URL and not REDIS_URL
# Under REQUIRE_SERVICES=1 (CI) a test that needs PostgreSQL or Redis fails instead of skipping.
REQUIRE_SERVICES = env_bool("REQUIRE_SERVICES", False)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "csp",
    "channels",
    "mission_control",
    "governance",
    "agents",
    "brain",  # versioned documents: agents' memory and the business's knowledge
    "executions",
    "board",  # epics, tasks and their dependencies, comments and claims
    "workflows",
    "autoscaling",  # scales agents on their queues: reads the ledger and the board, scales through agents
    "observability",  # rollups, dashboards, alerts: reads every app below, imported by none
    "intelligence",  # failure prediction and advice: reads the ledger, presence, observability
    "telemetry",  # OTLP traces in, Prometheus metrics out: on top of the apps above, imported by none
    "console",  # the operator pages: sits on top of everything
    "simulator",  # a tool, not a domain app: the SDK-driven fleet of `manage.py simulate`
]

MIDDLEWARE = [
    "mission_control.middleware.RequestContextMiddleware",
    "telemetry.middleware.RequestMetricsMiddleware",  # /metrics' request counts and latencies
    "mission_control.middleware.QueryTextMiddleware",  # NUL in a query parameter: 400, not a DB error
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "mission_control.csp.CachedPolicyCSPMiddleware",  # django-csp's, the constant policy built once
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "mission_control.urls"
APPEND_SLASH = False  # agents POST: every API path answers with or without a slash, no redirect

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
            ],
        },
    },
]

ASGI_APPLICATION = "mission_control.asgi.application"
WSGI_APPLICATION = "mission_control.wsgi.application"

# --- Database -------------------------------------------------------------------------------
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql") and not TESTING and env_bool("MC_DB_POOL", True):
        # Under ASGI a request may run on any thread, so per-thread persistent connections pile up
        # until PostgreSQL refuses clients (measured: bench/http_servers.py). A psycopg pool shares
        # a bounded set per process instead.
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            # 20: twice the most connections daphne held busy under 200 agents beating every 5 s
            # (bench/pool.py; README "Sizing the database pool").
            "max_size": int(os.environ.get("MC_DB_POOL_MAX", "20")),
            "timeout": 10,
        }
    if env_bool("MC_DB_TRANSACTION_POOLER", False):
        # Behind PgBouncer in transaction mode each transaction may run on another server
        # connection: a server-side cursor (``.iterator()``, WITH HOLD outside a transaction) would be
        # lost between its FETCHes. Prepared statements are already off (Django's psycopg backend sets
        # ``prepare_threshold=None`` and binds client-side). docs/scaling.md says what was checked.
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(VAR_DIR / "mission_control.sqlite3")),
            "OPTIONS": {
                # WAL + IMMEDIATE: the web, worker and beat threads write concurrently without
                # "database is locked" surprises; the busy timeout queues writers instead.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            },
        }
    }
if TESTING and DATABASE_URL:
    # Only the test runner may TRUNCATE append-only tables (to reset between transactional tests).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c mission_control.allow_truncate=on"
if os.environ.get("TEST_DB_NAME"):
    # Lets several test runs share one PostgreSQL server without fighting over test_<name>.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DB_NAME"]}
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, channel layer, Celery -------------------------------------------------------------
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "mission_control.redis_cache.SharedRedisCache",  # one pool per process
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_PREFIX", "mc"),
            # Rate limits answer in well under a millisecond; a hung Redis must not hold a request
            # for redis-py's default 5 s (mission_control.redis_outage then skips it for a while).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 reads with a 5 s socket timeout by default, which races channels-redis'
                # 5 s blocking pop and tears idle WebSockets down with 1011 (django/channels_redis#422).
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 5}],
                "prefix": os.environ.get("CHANNELS_PREFIX", "mc:asgi"),
                # Messages are wake-ups (the event table is the source of truth), so a full channel
                # only delays a socket until its next poll; the bound is set here, not left implicit.
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "mc"}}
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    }
    # A host in the URL, or kombu warns "No hostname was supplied" on every connection.
    CELERY_BROKER_URL = "memory://localhost/"

CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker that accepts connections but never answers (a hung Redis) must cost a request seconds,
# not forever: kombu's Redis channel sets no socket timeout of its own (and redis-py pings on connect).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_timeout": 2,
    "socket_connect_timeout": 2,
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Tests run tasks inline (eager) unless a test starts a real worker.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", TESTING)
CELERY_TASK_EAGER_PROPAGATES = True
DJANGO_CELERY_BEAT_TZ_AWARE = True

# --- Auth, API ----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Every sign-in path (API token, /login/, /admin/login/) goes through this backend's limits.
AUTHENTICATION_BACKENDS = ["governance.signin.RateLimitedModelBackend"]
MC_SIGNIN_FORM = "governance.signin_forms.SignInForm"
MC_LOGIN_LOCKOUT_FAILURES = int(os.environ.get("MC_LOGIN_LOCKOUT_FAILURES", "5"))
MC_LOGIN_LOCKOUT_S = int(os.environ.get("MC_LOGIN_LOCKOUT_S", "60"))
MC_LOGIN_LOCKOUT_MAX_S = int(os.environ.get("MC_LOGIN_LOCKOUT_MAX_S", "900"))
MC_RATE_LOGIN_USERNAME = os.environ.get("MC_RATE_LOGIN_USERNAME", "50/hour")
# X-Forwarded-For is believed only from these proxies (addresses or CIDRs); empty: from none.
MC_TRUSTED_PROXIES = env_list("MC_TRUSTED_PROXIES", "")
for _proxy in MC_TRUSTED_PROXIES:
    ipaddress.ip_network(_proxy, strict=False)  # a typo fails at start-up, not silently
# After a Redis error, rate limits fail open and live events wait in the database; Redis is not
# asked again for this long (doubling while the outage lasts, up to a minute). See redis_outage.py.
MC_REDIS_RETRY_S = float(os.environ.get("MC_REDIS_RETRY_S", "5"))
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/control"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "agents.auth.AgentKeyAuthentication",
        "governance.auth.OperatorTokenAuthentication",
        "mission_control.api.authentication.CsrfSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["mission_control.api.parsers.BoundedJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "mission_control.api.pagination.IdCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "mission_control.api.openapi.MissionControlAutoSchema",
    "EXCEPTION_HANDLER": "mission_control.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Per agent key / operator token, counted in the cache (Redis); see governance/throttling.py.
    "DEFAULT_THROTTLE_CLASSES": [
        "governance.throttling.AgentKeyThrottle",
        "governance.throttling.OperatorThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "agent": os.environ.get("MC_RATE_AGENT", "3000/min"),
        "operator": os.environ.get("MC_RATE_OPERATOR", "1200/min"),
        "login": os.environ.get("MC_RATE_LOGIN", "30/min"),
    },
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": True,
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": "Mission Control API",
    "DESCRIPTION": "The control plane for fleets of AI agents.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "/api/redoc-dist",  # the sidecar's bundle, served without its remote logo
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mission_control.api.openapi.document_errors",  # the error shape under every status
    ],
    # Several apps have a "status", "kind" or "trigger" field: name each choice set after its concept.
    "ENUM_NAME_OVERRIDES": {
        "ExecutionStatusEnum": "executions.models.Status",
        "ExecutionTriggerEnum": "executions.models.Trigger",
        "LogKindEnum": "executions.models.LogKind",
        "AgentReportedStatusEnum": "agents.models.ReportedStatus",
        "RoleEnum": "governance.roles.Role",
        "TaskStatusEnum": "board.models.TaskStatus",
        "EpicStatusEnum": "board.models.EpicStatus",
        "RunStatusEnum": "workflows.models.workflow.RunStatus",
        "RunTriggerEnum": "workflows.models.workflow.RunTrigger",
        "StepStatusEnum": "workflows.models.workflow.StepStatus",
        "CronRunStatusEnum": "workflows.models.cron.CronRunStatus",
        "RuleKindEnum": "observability.models.RuleKind",
        "SourceKindEnum": "observability.models.SourceKind",
        "DeliveryStatusEnum": "observability.models.DeliveryStatus",
    },
}

# Largest request body an API call may send (413 payload_too_large beyond it); some endpoints take less.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("MC_MAX_BODY_BYTES", 10 * 1024 * 1024))
MC_MAX_REPORT_BYTES = int(os.environ.get("MC_MAX_REPORT_BYTES", 1024 * 1024))  # POST/PATCH /executions
MC_MAX_LOG_BYTES = int(os.environ.get("MC_MAX_LOG_BYTES", 5 * 1024 * 1024))  # POST /executions/{id}/logs
MC_MAX_HOOK_BYTES = int(os.environ.get("MC_MAX_HOOK_BYTES", 256 * 1024))  # POST /hooks/...
# POST /otel/v1/traces: the body as sent and once gunzipped (an OTLP batch of 512 spans with
# captured messages is a few MB).
MC_MAX_OTLP_BYTES = int(os.environ.get("MC_MAX_OTLP_BYTES", 8 * 1024 * 1024))
# GET /metrics: a token for the Prometheus server alone (``mcs_`` and at least 32 more characters),
# so it needs no operator account. Empty: only operator tokens read /metrics.
MC_METRICS_TOKEN = os.environ.get("MC_METRICS_TOKEN", "")
if MC_METRICS_TOKEN and (not MC_METRICS_TOKEN.startswith("mcs_") or len(MC_METRICS_TOKEN) < 36):
    raise ImproperlyConfigured("MC_METRICS_TOKEN must start with mcs_ and hold at least 32 more characters.")

# --- I18N, static -------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING
# Files a browser asks for at the site's root (/favicon.ico).
WHITENOISE_ROOT = BASE_DIR / "static" / "root"

# --- Mail ---------------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "mission-control@localhost")

# --- Security (production) ------------------------------------------------------------------
# MC_HTTPS: browsers reach the site over HTTPS (TLS at a proxy in front, or at daphne itself), so
# plain HTTP is redirected, HSTS is sent and the session and CSRF cookies are Secure. MC_HTTPS=0 is a
# plain-HTTP deployment on a network you trust: no redirect, no HSTS, cookies a browser keeps over HTTP.
MC_HTTPS = env_bool("MC_HTTPS", True)  # read with DEBUG=0 only
# MC_TLS_PROXY_HEADER: the header a TLS-terminating proxy sets to "https" (e.g. X-Forwarded-Proto).
# Trusted only when declared: without a proxy any client could send it and pass for HTTPS. This is
# about the scheme only; which proxies may name the client address is a separate setting.
MC_TLS_PROXY_HEADER = os.environ.get("MC_TLS_PROXY_HEADER", "").strip()
if MC_TLS_PROXY_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + MC_TLS_PROXY_HEADER.upper().replace("-", "_"), "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", MC_HTTPS)
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/?$"]
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if MC_HTTPS else "0"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    SESSION_COOKIE_SECURE = MC_HTTPS
    CSRF_COOKIE_SECURE = MC_HTTPS
    if not SECURE_HSTS_PRELOAD:
        # Preload-list submission is hard to undo, so it stays an explicit opt-in.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): the pages load everything from this origin and run no inline
# script without the request's nonce, so an injected <script>, on*= handler, javascript: URL or
# <style> element does nothing. Style *attributes* stay allowed (the pages size bars and columns
# with them; CSS in an attribute cannot load or select anything). ReDoc alone loosens styles and
# workers (mission_control/urls.py: its bundle injects <style> elements and searches in a blob: worker).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],  # the nonce only on pages that use {{ request.csp_nonce }}
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],  # fetch/htmx and the same-origin WebSocket
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
CONTENT_SECURITY_POLICY_REPORT_ONLY = None  # no report-only policy (mission_control/csp.py reads it)

# --- Logging ------------------------------------------------------------------------------------
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG else "json")
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "mission_control.logging.ContextFilter"}},
    "formatters": {
        "text": {
            "format": "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s%(context)s] %(message)s",
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "ts", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT if LOG_FORMAT in {"text", "json"} else "text",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "celery": {"level": "INFO"},
    },
}

# --- Product knobs --------------------------------------------------------------------------------
MC_DEFAULT_HEARTBEAT_TIMEOUT_S = int(os.environ.get("MC_DEFAULT_HEARTBEAT_TIMEOUT_S", "60"))
# Heartbeat answers each web process keeps (one per agent, ~1 KiB each; least recently used out).
MC_HEARTBEAT_CACHE_AGENTS = int(os.environ.get("MC_HEARTBEAT_CACHE_AGENTS", "20000"))
# A cached heartbeat answer is read again from the database after this long whatever the counters
# say (mission_control/control_versions.py: the backstop should a process die owing a bump).
MC_HEARTBEAT_ANSWER_MAX_AGE_S = float(os.environ.get("MC_HEARTBEAT_ANSWER_MAX_AGE_S", "300"))
# The WSGI process (the Procfile's ``agents``) answers a plain heartbeat in front of Django
# (agents/api/heartbeat_front.py), the same answer for about half the CPU; 0: Django answers all.
MC_HEARTBEAT_FRONT = env_bool("MC_HEARTBEAT_FRONT", True)
MC_ABORT_GRACE_S = int(os.environ.get("MC_ABORT_GRACE_S", "30"))
# Pending work no agent took within this long fails (freeing its budget hold); 0 waits forever.
MC_START_TIMEOUT_S = int(os.environ.get("MC_START_TIMEOUT_S", "3600"))
# Where manage.py archive_ledger writes each archived month's gzip JSONL (made when first needed).
MC_ARCHIVE_DIR = Path(os.environ.get("MC_ARCHIVE_DIR", VAR_DIR / "archive"))
MC_PUSH_TIMEOUT_S = float(os.environ.get("MC_PUSH_TIMEOUT_S", "10"))
# Delivery attempts of one push execution (backoff 2, 4, 8 s...) before it fails as undeliverable.
MC_PUSH_MAX_ATTEMPTS = int(os.environ.get("MC_PUSH_MAX_ATTEMPTS", "5"))
# The address agents reach this server at (e.g. https://mc.example.com), for the absolute
# ``report_url`` of push payloads. Unset: the URL is relative (/api/v1/executions/<id>) and the
# agent joins it to the base URL it was configured with (the SDK reports to its own base URL).
MC_PUBLIC_URL = os.environ.get("MC_PUBLIC_URL", "").strip().rstrip("/")
if MC_PUBLIC_URL and not MC_PUBLIC_URL.startswith(("http://", "https://")):
    raise RuntimeError(f"MC_PUBLIC_URL must start with http:// or https:// (got {MC_PUBLIC_URL!r}).")
# Push endpoints and alert webhooks may only reach public addresses (mission_control/outbound.py),
# except networks listed here (CIDRs), e.g. agents inside your own network. The test suite runs its
# push agents and webhooks on loopback, so it (and only it) allows loopback unless told otherwise.
MC_OUTBOUND_ALLOW = env_list("MC_OUTBOUND_ALLOW", "127.0.0.0/8,::1/128" if TESTING else "")
for _network in MC_OUTBOUND_ALLOW:
    ipaddress.ip_network(_network, strict=False)  # a typo fails at start-up
# Every running execution has a deadline: its agent's run settings, else these (0: none).
# Start-to-close, and the longest silence (no report, log line or mention in the agent's heartbeat).
MC_EXECUTION_TIMEOUT_S = int(os.environ.get("MC_EXECUTION_TIMEOUT_S", "21600"))
MC_EXECUTION_HEARTBEAT_TIMEOUT_S = int(os.environ.get("MC_EXECUTION_HEARTBEAT_TIMEOUT_S", "600"))
# Missed cron slots reported one by one per job and sweep after an outage; older ones: one summary.
MC_CRON_MISSED_MAX = int(os.environ.get("MC_CRON_MISSED_MAX", "60"))
# The bus asks governance who may read which business's events, without importing it.
MC_EVENT_SCOPE = "governance.access.event_scope"
MC_WS_TOKEN_AUTHENTICATORS = ["governance.auth.ws_principal", "agents.auth.ws_principal"]
# The live stream (mission_control/consumers.py): how often an idle socket looks for events it was
# not woken for (a lost wake-up, a Redis restart), re-checks its caller's access, how many events it
# sends ahead of a client's acks, and how long a client may stall with its window full.
# The web and agents processes' collector thresholds (mission_control/collector.py); CPython's own are 700,10,10.
MC_WEB_GC_THRESHOLD = tuple(int(n) for n in os.environ.get("MC_WEB_GC_THRESHOLD", "10000,10,10").split(","))
MC_WS_POLL_S = float(os.environ.get("MC_WS_POLL_S", "2"))
MC_WS_RECHECK_S = float(os.environ.get("MC_WS_RECHECK_S", "15"))
MC_WS_WINDOW = int(os.environ.get("MC_WS_WINDOW", "1000"))
MC_WS_STALL_S = float(os.environ.get("MC_WS_STALL_S", "30"))

# Failure prediction (intelligence/): a subject is at risk when the probability that its next
# execution fails is at least MC_AT_RISK_THRESHOLD; models train on the last MC_PREDICTION_TRAIN_DAYS
# of the ledger and need MC_PREDICTION_MIN_SAMPLES executions with history before them.
MC_AT_RISK_THRESHOLD = float(os.environ.get("MC_AT_RISK_THRESHOLD", "0.5"))
MC_PREDICTION_TRAIN_DAYS = int(os.environ.get("MC_PREDICTION_TRAIN_DAYS", "14"))
MC_PREDICTION_MIN_SAMPLES = int(os.environ.get("MC_PREDICTION_MIN_SAMPLES", "200"))

# Autoscaling (autoscaling/): how often the sweep evaluates every enabled policy; one decision per
# agent per period, however many workers run the sweep.
MC_AUTOSCALE_PERIOD_S = int(os.environ.get("MC_AUTOSCALE_PERIOD_S", "15"))
# Decision rows older than this many days are deleted by the same sweep (at least one day: the
# stabilisation windows, at most an hour, and the agent page's chart read the recent ones).
MC_AUTOSCALE_KEEP_DAYS = max(1, int(os.environ.get("MC_AUTOSCALE_KEEP_DAYS", "7")))
# Cost-aware routing (executions/routing.py): the share of routed work that explores another eligible
# agent than the cheapest (a business may set its own), the window of history the figures cover, and
# how many executions' worth of the fleet's figures an agent's own are blended with.
MC_ROUTING_EXPLORE_SHARE = os.environ.get("MC_ROUTING_EXPLORE_SHARE", "0.05")
MC_ROUTING_WINDOW_H = int(os.environ.get("MC_ROUTING_WINDOW_H", "24"))
MC_ROUTING_PRIOR_WEIGHT = int(os.environ.get("MC_ROUTING_PRIOR_WEIGHT", "10"))
