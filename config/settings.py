"""Assay settings: one module, driven by environment variables.

With no variables set Assay runs on the embedded default: a SQLite file in the data folder
and Celery tasks executed in-process (core.tasks), so a newcomer needs no server.
"""

import os
import secrets
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

# Every variable is read through these helpers, so a bad value stops start-up with a message
# naming it. An empty value counts as unset: docker compose passes `${NAME:-}` through as "".
TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


def _raw(name):
    value = os.environ.get(name, "").strip()
    return value or None


def _str(name, default):
    value = _raw(name)
    return default if value is None else value


def _bool(name, default):
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in TRUE_WORDS:
        return True
    if value.lower() in FALSE_WORDS:
        return False
    words = "/".join(TRUE_WORDS + FALSE_WORDS)
    raise ImproperlyConfigured(f"{name} must be one of {words}, got {value!r}")


def _int(name, default, minimum=0):
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def _positive_int(name, default):
    return _int(name, default, minimum=1)


def _list(name, default):
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


DATA_DIR = Path(_str("ASSAY_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key():
    """SECRET_KEY from the environment, else one generated once and kept in the data folder."""
    key = _raw("SECRET_KEY")
    if key is not None:
        if len(key) < 50:
            raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long")
        return key
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _bool("DEBUG", False)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
ALLOWED_HOSTS = _list("ALLOWED_HOSTS", LOCAL_HOSTS[:2])
CSRF_TRUSTED_ORIGINS = _list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",  # Django's widget templates, for FORM_RENDERER's template engine
    "django_htmx",
    "template_partials",
    "ninja",
    "csp",
    "core",
    "radar",
    "papers",
    "experiments",
    "review",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
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

# Every form renders through one pair of project templates (templates/forms/).
FORM_RENDERER = "core.forms.FormRenderer"

DATABASES = {
    "default": environ.Env.db_url_config(
        _str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'assay.sqlite3'}")
    ),
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
    DATABASES["default"]["CONN_MAX_AGE"] = _int("CONN_MAX_AGE", 60)
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
TIME_ZONE = _str("TIME_ZONE", "UTC")
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
# Papers' PDFs (papers/pdfs.py). An upload or a fetch larger than this is refused while it
# streams; extraction runs in a child process capped in memory and CPU time (and killed after
# twice the CPU time in wall-clock time), so a hostile PDF costs one failed extraction.
ASSAY_PDF_MAX_BYTES = _positive_int("ASSAY_PDF_MAX_BYTES", 50 * 1024 * 1024)
ASSAY_PDF_MAX_PAGES = _positive_int("ASSAY_PDF_MAX_PAGES", 1000)
ASSAY_PDF_EXTRACT_SECONDS = _positive_int("ASSAY_PDF_EXTRACT_SECONDS", 120)
ASSAY_PDF_EXTRACT_MEMORY_MB = _int("ASSAY_PDF_EXTRACT_MEMORY_MB", 1024, minimum=64)
ASSAY_PDF_FETCH_TIMEOUT_SECONDS = _positive_int("ASSAY_PDF_FETCH_TIMEOUT_SECONDS", 60)
# Where "Fetch from arXiv" downloads a paper's PDF ({arxiv_id}: the id without version).
ASSAY_ARXIV_PDF_URL = _str("ASSAY_ARXIV_PDF_URL", "https://arxiv.org/pdf/{arxiv_id}")
if "{arxiv_id}" not in ASSAY_ARXIV_PDF_URL:
    raise ImproperlyConfigured(
        f"ASSAY_ARXIV_PDF_URL must contain {{arxiv_id}}, got {ASSAY_ARXIV_PDF_URL!r}"
    )
# A fetch to a loopback, private or link-local address (the cloud metadata service, the
# database) is refused unless this is on: a URL typed by a Member must not reach them.
ASSAY_PDF_FETCH_PRIVATE_ADDRESSES = _bool("ASSAY_PDF_FETCH_PRIVATE_ADDRESSES", False)

# Stored files (PDFs) go through Django's storage API: the data folder by default, or any
# S3-compatible store (AWS, MinIO, Ceph, R2) through django-storages when a bucket is named.
# Files are served only through a logged-in view (papers:paper_pdf), never from MEDIA_URL.
ASSAY_S3_BUCKET = _str("ASSAY_S3_BUCKET", "")
if ASSAY_S3_BUCKET:
    _s3_optional = {
        "endpoint_url": _str("ASSAY_S3_ENDPOINT_URL", ""),
        "region_name": _str("ASSAY_S3_REGION", ""),
        "location": _str("ASSAY_S3_PREFIX", ""),
        # Unset: boto3 finds credentials itself (AWS_* variables, an instance role).
        "access_key": _str("ASSAY_S3_ACCESS_KEY_ID", ""),
        "secret_key": _str("ASSAY_S3_SECRET_ACCESS_KEY", ""),
    }
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": ASSAY_S3_BUCKET,
            "default_acl": None,  # the bucket's own policy: private
            "file_overwrite": False,
            **{key: value for key, value in _s3_optional.items() if value},
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Records (papers, radar rows) per imported file; more is refused before any is read.
ASSAY_IMPORT_MAX_RECORDS = _positive_int("ASSAY_IMPORT_MAX_RECORDS", 10_000)
# Distinct metric names a run may report (logged points and summary keys together); the
# experiment page compares every metric (~5 ms of CPU each), so thousands would slow it.
ASSAY_MAX_METRICS_PER_RUN = _positive_int("ASSAY_MAX_METRICS_PER_RUN", 500)

# Security. A server that answers to a real host name (not only this machine's loopback names)
# is production: HTTPS is on unless ASSAY_HTTPS=false says this is a plain-HTTP lab install.
SERVES_OTHER_HOSTS = any(host not in LOCAL_HOSTS for host in ALLOWED_HOSTS)
ASSAY_HTTPS = _bool("ASSAY_HTTPS", SERVES_OTHER_HOSTS and not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = ASSAY_HTTPS
CSRF_COOKIE_SECURE = ASSAY_HTTPS
SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", ASSAY_HTTPS)
SECURE_HSTS_SECONDS = _int("SECURE_HSTS_SECONDS", 31536000 if ASSAY_HTTPS else 0)
# includeSubDomains and preload bind every subdomain of the site's domain to HTTPS too.
SECURE_HSTS_INCLUDE_SUBDOMAINS = ASSAY_HTTPS
SECURE_HSTS_PRELOAD = ASSAY_HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if _bool("ASSAY_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Scripts only from our own origin, so user-written Markdown that slipped past the sanitiser
# still could not run script. A page that needs an inline script marks it with the per-request
# nonce, `<script nonce="{{ request.csp_nonce }}">`; the nonce is in the header only then.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        # Inline styles: htmx injects its indicator styles and the server-drawn SVG radar
        # positions blips with style attributes; styles cannot run code.
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# API pages (ninja's limit/offset pagination): 50 items unless ?limit= says, at most 500.
NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_MAX_LIMIT = 500

# Celery: with REDIS_URL unset tasks run in-process; core.tasks catches, logs and retries failures.
REDIS_URL = _str("REDIS_URL", "")
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
# Publishing must fail fast when Redis is down, within a request's patience, without retries:
# the task waits in the outbox (core.DeferredTask) and the redispatch task sends it later.
CELERY_BROKER_CONNECTION_TIMEOUT = 0.5
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 1}
CELERY_TASK_PUBLISH_RETRY = False
# Embedded default: tasks run in a background thread of the process after the response, so a
# large import never embeds inside its request (false: at commit, in the caller's thread).
ASSAY_TASKS_IN_BACKGROUND = _bool("ASSAY_TASKS_IN_BACKGROUND", True)
# Embedding work goes to the "gpu" queue when a GPU worker serves it (docker-compose gpu-worker).
ASSAY_EMBEDDING_QUEUE = _str("ASSAY_EMBEDDING_QUEUE", "celery")
CELERY_BEAT_SCHEDULE = {
    "redispatch-deferred-tasks": {"task": "core.tasks.redispatch_deferred", "schedule": 60.0},
    "reconcile-search-indexes": {"task": "papers.tasks.reconcile_indexes", "schedule": 600.0},
    "check-experiment-flags": {
        "task": "experiments.tasks.check_all_experiments",
        "schedule": 900.0,
    },
    # Each watch is polled at most every Watch.POLL_EVERY (6 h); this only finds the due ones.
    "poll-intake-watches": {"task": "papers.tasks.poll_due_watches", "schedule": 900.0},
}

# One cache for every process when Redis is there (throttles and the debounce must hold across
# web workers); a per-process one on the embedded default, which has a single process.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.FailSoftRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "assay",
            # Sized for a request: a dead Redis costs a fraction of a second, then is skipped.
            "OPTIONS": {"socket_connect_timeout": 0.3, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Papers: embedding models and vector indexes (see papers/embeddings.py).
BUILTIN_EMBEDDING_MODELS = ("minilm", "wordllama")


def _embedding_models():
    entries = _list("ASSAY_EMBEDDING_MODELS", BUILTIN_EMBEDDING_MODELS)
    names = []
    for entry in entries:
        name, is_path, path = (part.strip() for part in entry.partition("="))
        if (is_path and not (name and path)) or (
            not is_path and name not in BUILTIN_EMBEDDING_MODELS
        ):
            raise ImproperlyConfigured(
                f"ASSAY_EMBEDDING_MODELS entry {entry!r} is neither a built-in model "
                f"({', '.join(BUILTIN_EMBEDDING_MODELS)}) nor name=/path/to/model"
            )
        if name in names:
            raise ImproperlyConfigured(f"ASSAY_EMBEDDING_MODELS names {name!r} twice")
        names.append(name)
    if not names:
        raise ImproperlyConfigured("ASSAY_EMBEDDING_MODELS must name at least one model")
    return entries, names


ASSAY_EMBEDDING_MODELS, _embedding_names = _embedding_models()
ASSAY_EMBEDDING_DEFAULT_MODEL = _str("ASSAY_EMBEDDING_DEFAULT_MODEL", _embedding_names[0])
if ASSAY_EMBEDDING_DEFAULT_MODEL not in _embedding_names:
    raise ImproperlyConfigured(
        f"ASSAY_EMBEDDING_DEFAULT_MODEL {ASSAY_EMBEDDING_DEFAULT_MODEL!r} is not one of "
        f"ASSAY_EMBEDDING_MODELS ({', '.join(_embedding_names)})"
    )
# Web processes load the default model at start, in the background (config/wsgi.py).
ASSAY_WARM_UP_SEARCH = _bool("ASSAY_WARM_UP_SEARCH", True)
ASSAY_EMBEDDING_BATCH_SIZE = _positive_int("ASSAY_EMBEDDING_BATCH_SIZE", 64)
# Above this many vectors an index is built as HNSW instead of exact inner-product search.
# Exact search up to here: at 100k vectors a flat scan cost 7.7-15.7 ms a query (idle / loaded
# 2-core machine), HNSW 0.7 ms at recall@10 1.000 (bench/search_latency.py --part 1). The
# price: HNSW cannot remove a vector, so an edit or delete rebuilds the index in the background.
ASSAY_ANN_THRESHOLD = _positive_int("ASSAY_ANN_THRESHOLD", 20_000)
ASSAY_INDEX_DIR = DATA_DIR / "indexes"
# How MiniLM embeds a search query (papers/query_encoder.py): onnxruntime on an int8 or float32
# ONNX export of the packaged model, made once and kept in ASSAY_MODEL_CACHE_DIR, or torch.
QUERY_EMBEDDING_BACKENDS = ("onnx-int8", "onnx", "torch")
ASSAY_QUERY_EMBEDDING = _str("ASSAY_QUERY_EMBEDDING", "onnx-int8")
if ASSAY_QUERY_EMBEDDING not in QUERY_EMBEDDING_BACKENDS:
    raise ImproperlyConfigured(
        f"ASSAY_QUERY_EMBEDDING must be one of {', '.join(QUERY_EMBEDDING_BACKENDS)}, "
        f"got {ASSAY_QUERY_EMBEDDING!r}"
    )
ASSAY_MODEL_CACHE_DIR = DATA_DIR / "models"

# Radar: an active technique nobody touched for this many days counts as stale.
ASSAY_RADAR_STALE_DAYS = _positive_int("ASSAY_RADAR_STALE_DAYS", 90)

# Experiments: ingestion limits and token rate limiting.
ASSAY_API_MAX_BATCH_POINTS = _positive_int("ASSAY_API_MAX_BATCH_POINTS", 10_000)
ASSAY_TOKEN_FAILURES_PER_MINUTE = _positive_int("ASSAY_TOKEN_FAILURES_PER_MINUTE", 20)
# Where MLflow scripts' log_artifact() writes: each run's artifact_uri is
# <root>/<experiment key>/<run id>/artifacts in the team's own store (s3://, gs://, file://,
# https://), uploaded by the MLflow client itself. Empty: Assay stores no files, and
# log_artifact fails with a message saying so (Assay does not proxy artifact uploads).
ASSAY_MLFLOW_ARTIFACT_ROOT = _str("ASSAY_MLFLOW_ARTIFACT_ROOT", "").rstrip("/")
if ASSAY_MLFLOW_ARTIFACT_ROOT and not ASSAY_MLFLOW_ARTIFACT_ROOT.startswith(
    ("s3://", "gs://", "file://", "https://")
):
    raise ImproperlyConfigured(
        "ASSAY_MLFLOW_ARTIFACT_ROOT must start with s3://, gs://, file:// or https://, "
        f"got {ASSAY_MLFLOW_ARTIFACT_ROOT!r}"
    )
# Failed logins allowed per client address and username in a minute.
ASSAY_LOGIN_FAILURES_PER_MINUTE = _positive_int("ASSAY_LOGIN_FAILURES_PER_MINUTE", 5)
# How many proxies in front of Assay append to X-Forwarded-For (0: use REMOTE_ADDR); the
# failure limits count per client address, and behind a proxy REMOTE_ADDR is the proxy's.
ASSAY_TRUSTED_PROXY_COUNT = _int("ASSAY_TRUSTED_PROXY_COUNT", 0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": _str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
