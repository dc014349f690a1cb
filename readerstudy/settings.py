"""readerstudy settings: one file, every deployment value from the environment.

Defaults run the whole platform on one machine with nothing else installed: SQLite under
``var/``, media under ``var/media`` and Celery on kombu's filesystem transport under
``var/broker``. Production sets ``DJANGO_DEBUG=false``, ``DJANGO_SECRET_KEY``,
``DJANGO_ALLOWED_HOSTS``, ``DATABASE_URL`` (PostgreSQL) and ``CELERY_BROKER_URL`` (Redis); the
README's configuration table lists every variable.

Longer than the 400 lines a module is otherwise split at, on purpose: the house style keeps one
settings file, so that every value read from the environment is in one place (and
tests/test_settings.py checks the README documents each).
"""

from __future__ import annotations

import importlib.util
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    path = Path(raw) if raw else default
    return path if path.is_absolute() else (BASE_DIR / path).resolve()


# --- Core -------------------------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off. For a local run on the "
            "embedded defaults use DJANGO_DEBUG=true (make demo and make test do)."
        )
    SECRET_KEY = "insecure-local-development-key-never-used-with-DJANGO_DEBUG-off"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# Local state: database, media, broker spool and upload scratch space.
VAR_DIR = env_path("READERSTUDY_VAR_DIR", BASE_DIR / "var")
MEDIA_ROOT = env_path("MEDIA_ROOT", VAR_DIR / "media")
# Media are never served as plain files: images reach users through views that check access.
MEDIA_URL = "/media/"
UPLOAD_ROOT = env_path("READERSTUDY_UPLOAD_ROOT", VAR_DIR / "uploads")
FILE_UPLOAD_TEMP_DIR = str(UPLOAD_ROOT / "tmp")
for _folder in (VAR_DIR, MEDIA_ROOT, UPLOAD_ROOT / "tmp"):
    _folder.mkdir(parents=True, exist_ok=True)
# Case images are served by the view that checks access; with READERSTUDY_MEDIA_ACCEL the web
# server in front sends the bytes afterwards: "nginx" answers with X-Accel-Redirect to the
# internal location READERSTUDY_MEDIA_ACCEL_LOCATION (an alias of MEDIA_ROOT, docker/nginx.conf),
# "sendfile" with X-Sendfile and the file's path (Apache mod_xsendfile, lighttpd). Off by
# default: Django streams the file itself.
READERSTUDY_MEDIA_ACCEL = env_str("READERSTUDY_MEDIA_ACCEL", "").strip().lower()
if READERSTUDY_MEDIA_ACCEL in ("off", "none", "false"):
    READERSTUDY_MEDIA_ACCEL = ""
if READERSTUDY_MEDIA_ACCEL not in ("", "nginx", "sendfile"):
    raise ImproperlyConfigured(
        f"READERSTUDY_MEDIA_ACCEL must be nginx, sendfile or off, got {READERSTUDY_MEDIA_ACCEL!r}"
    )
READERSTUDY_MEDIA_ACCEL_LOCATION = env_str("READERSTUDY_MEDIA_ACCEL_LOCATION", "/protected-media/")
if not (
    READERSTUDY_MEDIA_ACCEL_LOCATION.startswith("/")
    and READERSTUDY_MEDIA_ACCEL_LOCATION.endswith("/")
):
    raise ImproperlyConfigured("READERSTUDY_MEDIA_ACCEL_LOCATION must start and end with /")
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750

# The real skin-lesion data and reference results that sit beside a checkout (../shared).
SHARED_DIR = env_path("READERSTUDY_SHARED_DIR", BASE_DIR.parent / "shared")
SHARED_DATA_DIR = env_path("READERSTUDY_SHARED_DATA", SHARED_DIR / "data")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "readerstudy.accounts",
    "readerstudy.core",
    "readerstudy.studies",
    "readerstudy.reading",
    "readerstudy.scoring",
    "readerstudy.analysis",
    "readerstudy.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it sees the outcome of every login attempt.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "readerstudy.urls"
WSGI_APPLICATION = "readerstudy.wsgi.application"
ASGI_APPLICATION = "readerstudy.asgi.application"

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
                "readerstudy.accounts.context_processors.roles",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'readerstudy.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker share one SQLite file: WAL lets them read while the other
    # writes, and IMMEDIATE transactions queue writers instead of failing with "locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so that a worker process in the integration tests sees the data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-readerstudy.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The grading hot path's reads and statements run as prepared statements of each PostgreSQL
# connection (core/rows.py). Off for a connection pooler in transaction mode, which does not
# carry SQL PREPAREs from one transaction to the next (PgBouncer's max_prepared_statements
# handles protocol-level statements only); a process that meets one turns them off by itself.
PREPARED_STATEMENTS = env_bool("READERSTUDY_PREPARED_STATEMENTS", True)

# --- Accounts and sessions --------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend that loads the user's roles with the user (one query instead of two).
    "readerstudy.accounts.backends.RoleModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
SESSION_COOKIE_AGE = env_int("READERSTUDY_SESSION_HOURS", 12) * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"

# django-axes: ten wrong passwords lock the account for 15 minutes, from wherever they came;
# ten from one address lock that address too, so guessing across accounts is slowed as well.
AXES_FAILURE_LIMIT = env_int("READERSTUDY_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("READERSTUDY_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "readerstudy.accounts.views.locked_out"
AXES_VERBOSE = False

# --- Security headers -------------------------------------------------------------------

SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Container health checks call this path over plain HTTP from inside the container.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"

# Every script, style, font and image comes from the app itself; no inline code anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Static files -----------------------------------------------------------------------

STATIC_URL = "/static/"
# plotly.js comes from the pinned plotly package itself, served like every other asset.
_PLOTLY = importlib.util.find_spec("plotly")  # pinned in requirements.txt
assert _PLOTLY is not None and _PLOTLY.origin, "plotly is not installed"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/plotly", Path(_PLOTLY.origin).parent / "package_data"),
]
STATIC_ROOT = env_path("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles")
# Images built into the container run collectstatic and serve hashed names; a checkout
# serves straight from the source folders through WhiteNoise's finders.
STATIC_MANIFEST = env_bool("DJANGO_STATIC_MANIFEST", False)
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
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

# --- Uploads ----------------------------------------------------------------------------

# Image sets arrive as one zip or as a manifest with many files; both stream to disk.
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("READERSTUDY_UPLOAD_MAX_FILES", 20_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Image ingest -----------------------------------------------------------------------

# Every image is checked against these limits before its pixels are decoded, and every zip
# before anything in it is extracted (readerstudy/studies/ingest/).
READERSTUDY_INGEST = {
    # width x height read from the file header; larger images are refused undecoded.
    "MAX_PIXELS": env_int("READERSTUDY_IMAGE_MAX_PIXELS", 50_000_000),
    "MAX_IMAGE_BYTES": env_int("READERSTUDY_IMAGE_MAX_BYTES", 256 * 1024 * 1024),
    "DISPLAY_MAX_SIDE": env_int("READERSTUDY_DISPLAY_MAX_SIDE", 1600),
    "THUMBNAIL_MAX_SIDE": env_int("READERSTUDY_THUMBNAIL_MAX_SIDE", 256),
    "JPEG_QUALITY": env_int("READERSTUDY_JPEG_QUALITY", 95),
    "ZIP_MAX_MEMBERS": env_int("READERSTUDY_ZIP_MAX_MEMBERS", 25_000),
    "ZIP_MAX_TOTAL_BYTES": env_int("READERSTUDY_ZIP_MAX_TOTAL_BYTES", 8 * 1024**3),
    # Photographs barely compress; a member that inflates more than this is a zip bomb.
    "ZIP_MAX_RATIO": env_int("READERSTUDY_ZIP_MAX_RATIO", 100),
    "MANIFEST_MAX_BYTES": env_int("READERSTUDY_MANIFEST_MAX_BYTES", 64 * 1024 * 1024),
    "MANIFEST_MAX_ROWS": env_int("READERSTUDY_MANIFEST_MAX_ROWS", 200_000),
    # A coordinator fixes a manifest in one go: report up to this many errors per import.
    "MAX_ERRORS": env_int("READERSTUDY_IMPORT_MAX_ERRORS", 200),
    # Threads that decode and re-encode images in parallel (1 = in the calling thread).
    "WORKERS": env_int("READERSTUDY_INGEST_WORKERS", 2),
}

# Whether a new study requires biopsy-proven cases unless its creator says otherwise: the same
# default in the web form, the API and `manage.py import_study`.
READERSTUDY_REQUIRE_BIOPSY_PROVEN_DEFAULT = env_bool(
    "READERSTUDY_REQUIRE_BIOPSY_PROVEN_DEFAULT", True
)

# --- API --------------------------------------------------------------------------------

REST_FRAMEWORK = {
    # Token first: an unauthenticated API call then answers 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # A view that does not name its permissions is closed to everyone.
    "DEFAULT_PERMISSION_CLASSES": ["readerstudy.accounts.permissions.DenyAll"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "readerstudy.core.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "readerstudy.core.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "readerstudy API",
    "DESCRIPTION": (
        "Reader studies of dermatologists versus a CNN: studies and image sets for "
        "coordinators, grading for readers, CNN scores and analyses for analysts."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "readerstudy.core.openapi.error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "StudyStatusEnum": "readerstudy.studies.models.Study.Status",
        "ImportJobStatusEnum": "readerstudy.studies.models.ImportJob.Status",
    },
}

# --- Celery -----------------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.rstrip("/") == "filesystem:":
    # The filesystem transport ignores the host, but kombu logs "No hostname was supplied" on
    # the first connection of every process without one: the demo's output would open with it.
    CELERY_BROKER_URL = "filesystem://localhost/"
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 900)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_SPOOL = env_path("READERSTUDY_BROKER_DIR", VAR_DIR / "broker")
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(BROKER_SPOOL / "queue"),
        "data_folder_out": str(BROKER_SPOOL / "queue"),
        "control_folder": str(BROKER_SPOOL / "control"),
        "store_processed": False,
    }
else:
    # Redis redelivers an unacknowledged message after the visibility timeout; it must outlast
    # the longest task (>= 1.1 x the hard time limit) or a slow task would run twice at once.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(CELERY_TASK_TIME_LIMIT * 1.5),
    }
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Scoring tasks go to the queue of the workers that should run the CNN: "cpu" or "gpu".
READERSTUDY_SCORING_QUEUE = env_str("READERSTUDY_SCORING_QUEUE", "cpu")
# "auto" = CUDA when the worker has a GPU, else the CPU (bf16 where the CPU supports it).
READERSTUDY_SCORING_DEVICE = env_str("READERSTUDY_SCORING_DEVICE", "auto")
# Cases per task. Each task pays about 30 ms before its first forward pass (its queries and
# decoding a first batch that nothing overlaps); 128 keeps that under 4% on a CPU worker
# (bench/scoring.py) while a 200-case study still spreads over two worker processes.
READERSTUDY_SCORING_CHUNK = env_int("READERSTUDY_SCORING_CHUNK", 128)
READERSTUDY_SCORING_BATCH = env_int("READERSTUDY_SCORING_BATCH", 32)
READERSTUDY_DECODE_THREADS = env_int("READERSTUDY_DECODE_THREADS", 2)
# torch threads per worker process (0: one per CPU core; with N pool processes use cores / N).
READERSTUDY_TORCH_THREADS = env_int("READERSTUDY_TORCH_THREADS", 0)
# The reconciler re-sends cases still unscored this long after they were sent.
READERSTUDY_SCORING_STALE_SECONDS = env_int("READERSTUDY_SCORING_STALE_SECONDS", 600)
CELERY_BEAT_SCHEDULE = {
    "reconcile-scores": {
        "task": "readerstudy.scoring.tasks.reconcile_scores",
        "schedule": env_int("READERSTUDY_RECONCILE_SECONDS", 120),
    },
}

# --- Sessions ---------------------------------------------------------------------------

# Where Redis runs (production and CI: the broker's URL unless READERSTUDY_CACHE_URL names
# another), sessions live there, under a key prefix of their own beside the broker's queues:
# reading a session costs no database round trip, and a logged-out session is gone for every
# web process at once. The embedded defaults have no shared cache, so sessions stay in the
# database there (a per-process memory cache would lose them between gunicorn workers).
READERSTUDY_CACHE_URL = env_str(
    "READERSTUDY_CACHE_URL",
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)
CACHES: dict[str, dict[str, object]] = {
    # Per-process memo of computed analyses (readerstudy.analysis.selectors).
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}
if READERSTUDY_CACHE_URL:
    CACHES["sessions"] = {
        "BACKEND": "readerstudy.core.cache.RedisCache",
        "LOCATION": READERSTUDY_CACHE_URL,
        "KEY_PREFIX": "readerstudy-session",
        "TIMEOUT": SESSION_COOKIE_AGE,
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    SESSION_CACHE_ALIAS = "sessions"
    # Users' roles (accounts/roles.py), forgotten by every change of group membership. The
    # timeout bounds the one race that forgetting cannot close: a request that read a user's
    # groups just before a change committed and stores them just after.
    CACHES["roles"] = {
        "BACKEND": "readerstudy.core.cache.RedisCache",
        "LOCATION": READERSTUDY_CACHE_URL,
        "KEY_PREFIX": "readerstudy-roles",
        "TIMEOUT": 300,
    }
else:
    SESSION_ENGINE = "django.contrib.sessions.backends.db"
    # No cache that every process shares: roles come from the database with the user.
    CACHES["roles"] = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}

# Headless Chromium that renders figures to PNG/SVG (kaleido); nothing is downloaded.
READERSTUDY_CHROMIUM = env_path("READERSTUDY_CHROMIUM", Path("/usr/bin/chromium"))

# --- Logging, locale --------------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
