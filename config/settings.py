"""Assay settings: one module, driven by environment variables.

With no variables set Assay runs on the embedded default: a SQLite file in the data folder
and Celery tasks executed eagerly in-process, so a newcomer needs no server.
"""

import os
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _positive_int(name, default):
    value = env.int(name, default=default)
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be a positive integer, got {value}")
    return value


DATA_DIR = Path(env.str("ASSAY_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key():
    """SECRET_KEY from the environment, else one generated once and kept in the data folder."""
    if "SECRET_KEY" in env.ENVIRON:
        key = env.str("SECRET_KEY")
        if len(key) < 50:
            raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long")
        return key
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "ninja",
    "core",
    "radar",
    "papers",
    "experiments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.api_input.ApiInputMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "core.context_processors.assay",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'assay.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so that servers and workers started by tests see the test data.
    # One file per test process, so parallel test runs do not share a database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-assay-{os.getpid()}.sqlite3")}
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    # Health checks make a dropped connection (a PostgreSQL restart) cost one request, not all.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve from the source folders too, so the embedded default needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = DATA_DIR / "media"
STATIC_ROOT.mkdir(exist_ok=True)

# Uploads (BibTeX, CSV, JSON) and request bodies.
ASSAY_MAX_UPLOAD_BYTES = _positive_int("ASSAY_MAX_UPLOAD_BYTES", 5 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = ASSAY_MAX_UPLOAD_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = ASSAY_MAX_UPLOAD_BYTES
# The size-limit handler goes first so that nothing past the limit reaches memory or disk.
FILE_UPLOAD_HANDLERS = [
    "core.uploads.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Records (papers, radar rows) per imported file; more is refused before any is read.
ASSAY_IMPORT_MAX_RECORDS = _positive_int("ASSAY_IMPORT_MAX_RECORDS", 10_000)
# Distinct metric names a run may report (logged points and summary keys together); the
# experiment page compares every metric (~5 ms of CPU each), so thousands would slow it.
ASSAY_MAX_METRICS_PER_RUN = _positive_int("ASSAY_MAX_METRICS_PER_RUN", 500)

# Security: the same defaults everywhere; ASSAY_HTTPS=true turns on what needs TLS in front.
ASSAY_HTTPS = env.bool("ASSAY_HTTPS", default=False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = ASSAY_HTTPS
CSRF_COOKIE_SECURE = ASSAY_HTTPS
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=ASSAY_HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if ASSAY_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = ASSAY_HTTPS
SECURE_HSTS_PRELOAD = ASSAY_HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env.bool("ASSAY_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Celery: with REDIS_URL unset tasks run eagerly in-process and their errors propagate.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must fail fast when Redis is down: the outbox (core.DeferredTask) takes over.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
# Embedding work goes to the "gpu" queue when a GPU worker serves it (docker-compose gpu-worker).
ASSAY_EMBEDDING_QUEUE = env.str("ASSAY_EMBEDDING_QUEUE", default="celery")
CELERY_BEAT_SCHEDULE = {
    "redispatch-deferred-tasks": {"task": "core.tasks.redispatch_deferred", "schedule": 60.0},
    "reconcile-search-indexes": {"task": "papers.tasks.reconcile_indexes", "schedule": 600.0},
    "check-experiment-flags": {
        "task": "experiments.tasks.check_all_experiments",
        "schedule": 900.0,
    },
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Papers: embedding models and vector indexes (see papers/embeddings.py).
ASSAY_EMBEDDING_MODELS = env.list("ASSAY_EMBEDDING_MODELS", default=["minilm", "wordllama"])
ASSAY_EMBEDDING_DEFAULT_MODEL = env.str("ASSAY_EMBEDDING_DEFAULT_MODEL", default="minilm")
ASSAY_EMBEDDING_BATCH_SIZE = _positive_int("ASSAY_EMBEDDING_BATCH_SIZE", 64)
# Above this many vectors an index is built as HNSW instead of exact inner-product search.
ASSAY_ANN_THRESHOLD = _positive_int("ASSAY_ANN_THRESHOLD", 200_000)
ASSAY_INDEX_DIR = DATA_DIR / "indexes"

# Radar: an active technique nobody touched for this many days counts as stale.
ASSAY_RADAR_STALE_DAYS = _positive_int("ASSAY_RADAR_STALE_DAYS", 90)

# Experiments: ingestion limits and token rate limiting.
ASSAY_API_MAX_BATCH_POINTS = _positive_int("ASSAY_API_MAX_BATCH_POINTS", 10_000)
ASSAY_TOKEN_FAILURES_PER_MINUTE = _positive_int("ASSAY_TOKEN_FAILURES_PER_MINUTE", 20)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
