"""IntelGraph settings.

Every value that differs between machines comes from the environment, read here
and nowhere else (django-environ). Malformed values stop start-up with a
one-line message naming the variable (see ``intelgraph.config``). Per-tenant
behaviour lives in models edited in the admin, never here.
"""

from __future__ import annotations

from pathlib import Path

from intelgraph import devstack_state
from intelgraph.config import Config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = devstack_state.var_dir()

cfg = Config(var_dir=VAR_DIR)

IG_ENV = cfg.choice("DJANGO_ENV", default="development", choices=("development", "test", "production"))
PRODUCTION = IG_ENV == "production"
DEBUG = cfg.bool("DJANGO_DEBUG", default=not PRODUCTION)
SECRET_KEY = cfg.secret_key("DJANGO_SECRET_KEY", required=PRODUCTION)
ALLOWED_HOSTS = cfg.list(
    "DJANGO_ALLOWED_HOSTS",
    default=None if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"],
)
CSRF_TRUSTED_ORIGINS = cfg.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --------------------------------------------------------------------------- servers
# Production names its servers; without them the embedded ones under var/ are used, at the ports their
# state file remembers (tools/devstack writes it; settings only read it, and never in production).
EMBEDDED_URLS = {} if PRODUCTION else devstack_state.running_urls()
EMBEDDED_SERVERS = {name: not cfg.is_set(name) for name in ("DATABASE_URL", "REDIS_URL", "GRAPH_URL")}
DATABASES = {
    "default": cfg.db_url(
        "DATABASE_URL",
        default=EMBEDDED_URLS.get("DATABASE_URL", devstack_state.postgres_url(5432)),
        required=PRODUCTION,
    )
}
DATABASES["default"]["CONN_MAX_AGE"] = cfg.int("DATABASE_CONN_MAX_AGE", default=60 if PRODUCTION else 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A psycopg connection pool for the web process (ASGI runs each request's ORM work on a fresh thread, where
# CONN_MAX_AGE keeps nothing: without a pool every request opens a connection). `manage.py run` sets it for
# the web server; workers and commands keep plain connections (0 = no pool).
DATABASE_POOL_MAX = cfg.int("DATABASE_POOL_MAX", default=0)
if DATABASE_POOL_MAX > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_MAX,
        # seconds a request waits for a free connection; past it, 503 OVERLOADED (intelgraph/overload.py)
        "timeout": cfg.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
DATABASES["default"].setdefault("TEST", {})["NAME"] = cfg.str("DATABASE_TEST_NAME", default="test_intelgraph")
# Tests use their own Redis database, so a `make run` worker never takes a test's tasks.
_EMBEDDED_REDIS_DB = "1" if IG_ENV == "test" else "0"
REDIS_URL = cfg.url(
    "REDIS_URL",
    default=EMBEDDED_URLS.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/" + _EMBEDDED_REDIS_DB,
    schemes=("redis", "rediss"),
    required=PRODUCTION,
)
GRAPH_URL = cfg.url(
    "GRAPH_URL",
    default=EMBEDDED_URLS.get("GRAPH_URL", "falkordb://127.0.0.1:6379"),
    schemes=("falkordb", "neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"),
    required=PRODUCTION,
)
GRAPH_NAME = cfg.str("GRAPH_NAME", default="intelgraph_test" if IG_ENV == "test" else "intelgraph")
# Most edges one neighbourhood request explores (all hops together); beyond it the answer says truncated.
GRAPH_EXPANSION_BUDGET = cfg.int("GRAPH_EXPANSION_BUDGET", default=2000)

# --------------------------------------------------------------------------- apps
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    "graphene_django",
    "guardian",
    "simple_history",
    "django_celery_beat",
    "apps.core",
    "apps.access",
    "apps.search",
    "apps.versioning",
    "apps.audit",
    "apps.compliance",
    "apps.safety",
    "apps.finops",
    "apps.graph",
    "apps.er",
    "apps.explorer",
]

MIDDLEWARE = [
    "intelgraph.metrics.PrometheusMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.core.middleware.ApiTokenMiddleware",
    "intelgraph.overload.OverloadMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "intelgraph.urls"
ASGI_APPLICATION = "intelgraph.asgi.application"
WSGI_APPLICATION = None
AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Analysts who are not staff sign in here (the admin login refuses non-staff accounts).
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/explorer/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

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
                "apps.access.context_processors.purpose",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = cfg.path("MEDIA_ROOT", default=VAR_DIR / "media")
WHITENOISE_USE_FINDERS = not PRODUCTION
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --------------------------------------------------------------------------- cache, channels, celery
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --------------------------------------------------------------------------- FinOps (apps/finops, docs/finops.md)
FINOPS_CURRENCY = cfg.str("FINOPS_CURRENCY", default="USD")
# How old the spend and caps an LLM call is checked against may be, per process (the calls settled since are
# added exactly; a cap changed in another process applies within this many seconds). 0: read them every call.
FINOPS_LIMITS_SECONDS = cfg.float("FINOPS_LIMITS_SECONDS", default=2.0)
# The LLM gateway (/llm/v1/chat/completions) forwards to one OpenAI-compatible provider. No base URL: LLM features
# say they are not configured. The key is a secret: environment only.
LLM_BASE_URL = cfg.url("LLM_BASE_URL", default="", schemes=("https", "http")).rstrip("/")
LLM_API_KEY = cfg.str("LLM_API_KEY", default="")
LLM_MODELS = cfg.list("LLM_MODELS", default=[])  # the models integrators may ask for; empty: none
LLM_TIMEOUT_SECONDS = cfg.float("LLM_TIMEOUT_SECONDS", default=60.0)
LLM_MAX_TOKENS = cfg.int("LLM_MAX_TOKENS", default=2048)  # the most output tokens one call may ask for
LLM_DEFAULT_MAX_TOKENS = cfg.int("LLM_DEFAULT_MAX_TOKENS", default=512)  # when a call does not say
LLM_SUMMARY_MODEL = cfg.str("LLM_SUMMARY_MODEL", default="")  # the Explorer's "Summarize"; blank: the first model

# --------------------------------------------------------------------------- operational alerts
# Where alerts go (apps/core/alerts.py): e-mail addresses, and a Slack incoming-webhook URL. Either may be empty.
ALERT_EMAILS = cfg.list("ALERT_EMAILS", default=[])
ALERT_SLACK_WEBHOOK_URL = cfg.url("ALERT_SLACK_WEBHOOK_URL", default="", schemes=("https", "http"))
ALERT_THROTTLE_SECONDS = cfg.int("ALERT_THROTTLE_SECONDS", default=900)
DEFAULT_FROM_EMAIL = cfg.str("DEFAULT_FROM_EMAIL", default="intelgraph@localhost")
# Where people reach the product: links in e-mails (access review reminders) point here.
SITE_URL = cfg.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
EMAIL_BACKEND = cfg.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = cfg.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = cfg.int("EMAIL_PORT", default=25)

# --------------------------------------------------------------------------- GraphQL and API
GRAPHENE = {
    "SCHEMA": "intelgraph.schema.schema",
    "ATOMIC_MUTATIONS": True,
}
GRAPHQL_SAFELIST = BASE_DIR / "graphql" / "safelist.json"
# The API's contract (docs/api/contract-checks.md): released schemas, the breaking changes accepted for the next
# major version, the changelog made from both, and graphql-inspector (`make clients`), schema_check's second opinion.
GRAPHQL_RELEASES = BASE_DIR / "graphql" / "releases.json"
GRAPHQL_ALLOWED_CHANGES = BASE_DIR / "graphql" / "allowed-changes.json"
API_CHANGELOG = BASE_DIR / "docs" / "api" / "CHANGELOG.md"
GRAPHQL_INSPECTOR = BASE_DIR / "tools" / "clients" / "node_modules" / ".bin" / "graphql-inspector"
# GraphiQL for browsers that ask /graphql for HTML (served from static/vendor, no CDN). The API's own
# checks (authentication, persisted-only in production) apply to what it sends.
GRAPHIQL = cfg.bool("GRAPHIQL", default=True)
# In production only safelisted (persisted) operations run, and `{ apiVersion }`; ad-hoc operations need an API
# token issued with the developer scope (staff sessions are not exempt: docs/api/clients.md).
GRAPHQL_REQUIRE_PERSISTED = cfg.bool("GRAPHQL_REQUIRE_PERSISTED", default=PRODUCTION)
# A deprecated field may be removed only after its EOL and this many days without recorded use.
DEPRECATION_QUIET_DAYS = cfg.int("DEPRECATION_QUIET_DAYS", default=30)
API_TOKEN_PREFIX = "igt_"  # noqa: S105 - a public marker, not a secret
# What one GraphQL request may cost (docs/api/limits.md): units of work estimated before it runs
# (intelgraph/graphql/cost.py), lexical tokens in its document (refused before parsing further), and wall-clock
# time from arrival to answer, database work included (intelgraph/graphql/deadline.py).
GRAPHQL_MAX_COST = cfg.int("GRAPHQL_MAX_COST", default=5000)
GRAPHQL_MAX_TOKENS = cfg.int("GRAPHQL_MAX_TOKENS", default=5000)
GRAPHQL_REQUEST_TIMEOUT_SECONDS = cfg.int("GRAPHQL_REQUEST_TIMEOUT_SECONDS", default=10)

# --------------------------------------------------------------------------- policies
POLICY_DIR = BASE_DIR / "policies"

# --------------------------------------------------------------------------- backups (apps.safety, ADR 0011)
# Barman's home: the backup repository (base backups and WAL, compressed and GPG-encrypted). By default
# var/backups/; in production a mounted volume (an NFS or block volume of its own, never the database's disk).
BACKUP_DIR = cfg.path("BACKUP_DIR", default=devstack_state.backup_dir())
BACKUP_SERVER_NAME = devstack_state.BACKUP_SERVER_NAME
# The OpenPGP key the repository is encrypted with: an ASCII-armoured secret key (public-key encryption: a
# backup host needs only the public part to write; restores need the secret key and its passphrase).
# Development generates one under var/keys/backup-gnupg/ with a passphrase in var/keys/backup-passphrase.
BACKUP_GPG_KEY = cfg.str("BACKUP_GPG_KEY", default="", required=PRODUCTION)
BACKUP_GPG_PASSPHRASE = cfg.str("BACKUP_GPG_PASSPHRASE", default="", required=PRODUCTION)
BACKUP_GNUPG_HOME = cfg.path("BACKUP_GNUPG_HOME", default=VAR_DIR / "keys" / "backup-gnupg")
BACKUP_PASSPHRASE_FILE = VAR_DIR / "keys" / "backup-passphrase"
# PostgreSQL's client programs (pg_basebackup, pg_verifybackup, pg_combinebackup, postgres for scratch
# instances): by default the embedded wheel's, which match the embedded server's major version.
BACKUP_PG_BIN_DIR = cfg.path("BACKUP_PG_BIN_DIR", default=devstack_state.embedded_pg_bin_dir())
# Restore drills build their scratch instances (a second PostgreSQL and graph store) here; never the live ones.
BACKUP_SCRATCH_DIR = cfg.path("BACKUP_SCRATCH_DIR", default=VAR_DIR / "scratch")
BACKUP_GRAPH_SNAPSHOT_DIR = cfg.path("BACKUP_GRAPH_SNAPSHOT_DIR", default=BACKUP_DIR / "graph")
# How long a graph snapshot's BGSAVE may take before the snapshot is given up (the projection can be rebuilt).
BACKUP_GRAPH_SNAPSHOT_TIMEOUT = cfg.int("BACKUP_GRAPH_SNAPSHOT_TIMEOUT", default=600)

# --------------------------------------------------------------------------- audit
# Ed25519 key signing audit events: base64 of the 32 raw private-key bytes.
# Development generates one under var/keys/; production must provide it.
AUDIT_SIGNING_KEY = cfg.ed25519_key("AUDIT_SIGNING_KEY", required=PRODUCTION)
AUDIT_KEY_FILE = VAR_DIR / "keys" / "audit_ed25519.key"
# Verification trusts only these public keys (raw Ed25519, hex) and this installation's own signing key, never
# keys found in the database it checks. Keep old keys listed after a rotation so old events still verify.
AUDIT_TRUSTED_KEYS = cfg.ed25519_public_keys("AUDIT_TRUSTED_KEYS") + cfg.ed25519_public_keys_file(
    "AUDIT_TRUSTED_KEYS_FILE"
)
# The last verified head (seq and hash, signed), kept outside the database so a shortened log is noticed.
# Tests use their own file (each audit test a tmp path), never the development database's checkpoint.
AUDIT_CHECKPOINT_FILE = cfg.path(
    "AUDIT_CHECKPOINT_FILE",
    default=VAR_DIR / "audit" / ("checkpoint-test.json" if IG_ENV == "test" else "checkpoint.json"),
)
# The last verified state (size and root, signed), where incremental verification starts.
AUDIT_VERIFIED_FILE = cfg.path(
    "AUDIT_VERIFIED_FILE",
    default=VAR_DIR / "audit" / ("verified-test.json" if IG_ENV == "test" else "verified.json"),
)
# The log's name in every checkpoint, so a checkpoint of one installation is never taken for another's.
AUDIT_LOG_ORIGIN = cfg.str("AUDIT_LOG_ORIGIN", default="intelgraph.audit/" + ("production" if PRODUCTION else IG_ENV))
# The sealer (manage.py audit_sealer): how often it looks for committed events, the most it seals in one batch,
# and after how long an unsealed event makes an alert (sealer stopped, or a long transaction holding it back).
AUDIT_SEALER_INTERVAL_MS = cfg.int("AUDIT_SEALER_INTERVAL_MS", default=500)
AUDIT_SEALER_BATCH_MAX = cfg.int("AUDIT_SEALER_BATCH_MAX", default=20_000)

# Access reviews (apps.compliance): days from launch to the due date; seconds an export waits for the sealer to
# seal the review's last events so it can prove them (what is still unsealed becomes a gap in the manifest).
ACCESS_REVIEW_DUE_DAYS = cfg.int("ACCESS_REVIEW_DUE_DAYS", default=30)
ACCESS_REVIEW_EXPORT_WAIT = cfg.float("ACCESS_REVIEW_EXPORT_WAIT", default=3.0)
AUDIT_UNSEALED_ALERT_SECONDS = cfg.int("AUDIT_UNSEALED_ALERT_SECONDS", default=300)
# An event type missing from apps/audit/catalogue.py: an error (development, tests) or a logged warning.
AUDIT_UNKNOWN_EVENT_TYPES = cfg.choice(
    "AUDIT_UNKNOWN_EVENT_TYPES", default="warn" if PRODUCTION else "error", choices=("error", "warn")
)
# The retention purge (Celery beat, daily): on by default; AUDIT_PURGE_ENABLED=0 keeps everything.
AUDIT_PURGE_ENABLED = cfg.bool("AUDIT_PURGE_ENABLED", default=True)

# --------------------------------------------------------------------------- security
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = cfg.bool("DJANGO_SECURE_COOKIES", default=PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = cfg.bool("DJANGO_SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_HSTS_SECONDS = cfg.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = cfg.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = cfg.bool("DJANGO_SECURE_HSTS_PRELOAD", default=PRODUCTION)
if cfg.bool("DJANGO_BEHIND_TLS_PROXY", default=PRODUCTION):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Health probes come over plain HTTP from the orchestrator.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# --------------------------------------------------------------------------- logging
LOG_FORMAT = cfg.choice("LOG_FORMAT", default="json" if PRODUCTION else "text", choices=("json", "text"))
LOG_LEVEL = cfg.choice("LOG_LEVEL", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "intelgraph.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": "INFO"},
    },
}
