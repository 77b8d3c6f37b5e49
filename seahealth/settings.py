"""seahealth settings: every value comes from the environment (django-environ), read by
seahealth/environment.py, so that a value its variable cannot take stops the process at
start naming the variable.

The defaults run on SQLite with no other server, DEBUG off; a SECRET_KEY is always needed
(make run makes one). docker-compose.yml and .env.example show the production shape
(PostgreSQL, Redis, behind a TLS proxy).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from probes.durations import format_duration
from probes.maintenance import zone_problem
from seahealth.environment import (
    env,
    env_base_url,
    env_bool,
    env_broker_url,
    env_database,
    env_duration,
    env_email,
    env_hosts,
    env_log_level,
    env_origins,
    env_positive,
    env_secret,
    level_at_least,
)

BASE_DIR = Path(__file__).resolve().parent.parent

if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

# Off unless asked for: with it on, an error page shows every setting and the environment.
DEBUG = env_bool("DEBUG", default=False)

# No default key, not even for development: a published key signs anyone's sessions.
# `make run` makes a random one in .secret-key (git-ignored) and points SECRET_KEY_FILE at it.
SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY (or SECRET_KEY_FILE) must be set: a long random string, such as "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))' prints"
    )

ALLOWED_HOSTS = env_hosts("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_origins("CSRF_TRUSTED_ORIGINS")

# --- Behind a TLS proxy ---
# One switch for the usual production shape, a proxy or load balancer that terminates TLS
# and forwards plain HTTP: with it, `manage.py check --deploy` finds nothing to warn about.
# Each part can also be set on its own, and a part set wins over the switch.
BEHIND_TLS_PROXY = env_bool("SEAHEALTH_BEHIND_TLS_PROXY", default=False)
# Trust the proxy's `X-Forwarded-Proto: https`. Only behind a proxy that sets it (dropping
# the client's): a client that reached gunicorn directly could claim HTTPS with it.
if env_bool("SECURE_PROXY_SSL_HEADER", default=BEHIND_TLS_PROXY):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=BEHIND_TLS_PROXY)
# Load balancers, orchestrators and Prometheus may ask over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=BEHIND_TLS_PROXY)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=BEHIND_TLS_PROXY)
# A year, as browsers' preload lists ask; lower it (3600) for a first try of HTTPS-only.
SECURE_HSTS_SECONDS = env_positive(
    "SECURE_HSTS_SECONDS", 365 * 24 * 3600 if BEHIND_TLS_PROXY else 0, zero=True
)
# Subdomains of the dashboard's own host name (status.example.com), not of its parent.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", default=BEHIND_TLS_PROXY
)
# Preloading binds the whole domain, in every browser, for months after it is undone: the
# domain's owner decides, not a dashboard's default. Off, Django's reminder is silenced.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "probes",
    "dashboard",
    "notifications",
    "api",
    "statuspage",
    "inbound",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # NUL and other control characters in the path, the query, a form or a header: 400,
    # before a view (or django-axes) puts them in a query PostgreSQL would refuse with a 500.
    "seahealth.control_characters.ControlCharactersMiddleware",
    # The status page polls: 1.8 MB of rows at a thousand dependencies is 150 KB gzipped.
    # (BREACH: Django masks the CSRF token afresh in every response.)
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: it turns a login refused by the lock into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "seahealth.urls"
WSGI_APPLICATION = "seahealth.wsgi.application"
ASGI_APPLICATION = "seahealth.asgi.application"

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

# A database URL may hold a password, so it is a secret too (DATABASE_URL_FILE).
DATABASES = {
    "default": env_database("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the pages read while the prober writes; IMMEDIATE makes every transaction
    # take the write lock first, so a claim's read and update are one atomic step.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    # Tests use a file, not the shared in-memory database, so that they see real locking;
    # one per run, so that two runs side by side do not recreate each other's.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Connections are kept between requests: opening one (and, on SQLite, its PRAGMAs) would
# cost a health request more than its one query.
DATABASES["default"]["CONN_MAX_AGE"] = env_positive("CONN_MAX_AGE", 60, zero=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The lock first: a locked account or address is refused before its password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# --- Login throttling (django-axes; dashboard/login_throttle.py) ---
# Failed logins are counted per account and, separately, per address: after this many of
# either within SEAHEALTH_LOGIN_LOCKOUT, that account (from anywhere) and that address (for
# any account) are refused, even the right password, until SEAHEALTH_LOGIN_LOCKOUT after
# the last counted failure. A success resets the count of its account and address.
AXES_FAILURE_LIMIT = env_positive("SEAHEALTH_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_duration("SEAHEALTH_LOGIN_LOCKOUT", "15m")
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# Attempts while locked are refused but not counted: the lock ends on time, and a stored
# attempt (which keeps each try's query and form, passwords masked) stops growing.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# No row per successful login (the table would grow for ever); failures expire with the lock.
AXES_DISABLE_ACCESS_LOG = True
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]
AXES_USERNAME_CALLABLE = "dashboard.login_throttle.username"
AXES_CLIENT_IP_CALLABLE = "dashboard.login_throttle.client_address"
AXES_LOCKOUT_CALLABLE = "dashboard.login_throttle.locked_out"
# How many proxies every request passes (each appending to X-Forwarded-For): the client's
# address is the entry the outermost one appended. 0: REMOTE_ADDR. Behind a TLS proxy, 1.
SEAHEALTH_TRUSTED_PROXY_HOPS = env_positive(
    "SEAHEALTH_TRUSTED_PROXY_HOPS", 1 if BEHIND_TLS_PROXY else 0, zero=True
)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "sh-status"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Where collectstatic gathers files (the Docker image sets it). Without it, whitenoise serves
# straight from the app's static folders, so nothing needs collecting to run.
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
WHITENOISE_USE_FINDERS = True

LOG_LEVEL = env_log_level("LOG_LEVEL", "INFO")
# Loggers that never write below WARNING, whatever LOG_LEVEL says. Client libraries log whole
# requests at DEBUG: botocore the signed request (Authorization: ... Signature=...,
# X-Amz-Security-Token), urllib3 and httpx the URLs (an RPC key may be in one); httpx also
# logs every request at INFO, one line per probe. Django's SQL log (DEBUG) would show session
# keys and session data.
QUIET_LOGGERS = (
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "httpx",
    "httpcore",
    "websockets",
    "aiosmtplib",
    "django.db.backends",
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {
        "health_answers": {"()": "seahealth.logging_filters.HealthAnswersFilter"},
        # A second line of defence, for every record written: credential-looking values
        # (Authorization, Bearer, AWS signatures and tokens, URL passwords) are blanked.
        "redact_credentials": {"()": "seahealth.logging_filters.RedactCredentialsFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_credentials"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # A 503 from /health/* or /metrics is an answer, not a server error: not one ERROR
        # line per poll (the database's failure is logged once, by the view).
        "django.request": {"filters": ["health_answers"]},
        # runserver's request lines, through the same handler (and filter) as the rest.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        **{name: {"level": level_at_least(LOG_LEVEL, "WARNING")} for name in QUIET_LOGGERS},
        # Not a line at every start of every process; its lockouts are WARNINGs.
        "axes.apps": {"level": level_at_least(LOG_LEVEL, "WARNING")},
        # web3 logs the endpoint it connects to, resolved: the URL may hold an API key. The
        # probe reports what went wrong, scrubbed.
        "web3": {"level": "CRITICAL", "propagate": False},
    },
}

# --- Celery (the distributed way to run the prober; see seahealth/celery.py) ---
CELERY_BROKER_URL = env_broker_url("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# A probe batch ends within its longest timeout; these limits only catch a bug.
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
# Acknowledge on receipt: a worker killed mid-batch must not have the batch redelivered,
# the claim already moved those dependencies to their next interval.
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection before and after every task unless
# told to reuse it: a new PostgreSQL connection twice a batch cost more than the batch's
# queries. Reused for this many tasks (and CONN_MAX_AGE, CONN_HEALTH_CHECKS still apply).
CELERY_DB_REUSE_MAX = 500
CELERY_BEAT_SCHEDULE = {
    "dispatch-due": {
        "task": "probes.tasks.dispatch_due",
        "schedule": 1.0,
        # With no worker up, a backlog of dispatches would all run at once when one returns;
        # the newest one is all that is needed.
        "options": {"expires": 5.0},
    },
    "refresh-uptimes": {
        "task": "probes.tasks.refresh_uptimes",
        "schedule": 60.0,  # as often as runprobes does it (probes.rollups.REFRESH_SECONDS)
        "options": {"expires": 55.0},
    },
    "refresh-error-budgets": {
        "task": "probes.tasks.refresh_error_budgets",
        "schedule": 15.0,  # as often as runprobes does it (probes.error_budgets.REFRESH_SECONDS)
        "options": {"expires": 14.0},
    },
    "send-notifications": {
        "task": "notifications.tasks.send_notifications",
        "schedule": 2.0,
        # Only the newest is needed: each sends everything due.
        "options": {"expires": 10.0},
    },
    "prune-history": {
        "task": "probes.tasks.prune_history",
        # As often as runprobes prunes (probes.retention.EVERY_SECONDS).
        "schedule": 600.0,
        # A prune that waited past the next one's time adds nothing: the next one does it all.
        "options": {"expires": 540.0},
    },
}

# --- seahealth ---
# The pages are behind a login unless this is true (read-only either way); /health/* and
# /metrics never are.
SEAHEALTH_PUBLIC_DASHBOARD = env_bool("SEAHEALTH_PUBLIC_DASHBOARD", default=False)
# /health/ready fails when the prober recorded nothing for this long (`90s`, `5m`); unset, it
# is three times the shortest interval declared.
SEAHEALTH_READY_MAX_AGE = env_duration("SEAHEALTH_READY_MAX_AGE", None)
# /health/ready fails when the prober is behind: a dependency has been due for this long and
# no claim has taken it (probes/backlog.py). Unset, the max age above: however the prober
# fails, stopped or falling behind, the state may grow this old. Keep it above the longest
# probe timeout: a web process sees a claim only when a recording follows it.
SEAHEALTH_READY_MAX_LAG = env_duration("SEAHEALTH_READY_MAX_LAG", None)
# How long each web process answers /health/* from its copy of the state before it asks the
# database whether the state moved, in seconds: answers are at most this much older than
# the database. 0 asks on every request (one query; a round trip PostgreSQL may make cost
# more than the rest of the request).
SEAHEALTH_HEALTH_RECHECK_SECONDS = env_positive(
    "SEAHEALTH_HEALTH_RECHECK_SECONDS", 0.1, float, zero=True
)
# When set, /metrics wants `Authorization: Bearer <token>` (SEAHEALTH_METRICS_TOKEN_FILE too).
SEAHEALTH_METRICS_TOKEN = env_secret("SEAHEALTH_METRICS_TOKEN")
# How often the status page refreshes its live part, in seconds.
SEAHEALTH_REFRESH_SECONDS = env_positive("SEAHEALTH_REFRESH_SECONDS", 5)
SEAHEALTH_DEPENDENCIES = Path(env.str("SEAHEALTH_DEPENDENCIES", default="") or "dependencies.yaml")
# How often runprobes and dispatch_due look for due dependencies and a changed declaration.
SEAHEALTH_TICK_SECONDS = env_positive("SEAHEALTH_TICK_SECONDS", 1.0, float)
# Dependencies probed together with one shared HTTP client, in one Celery task.
SEAHEALTH_BATCH_SIZE = env_positive("SEAHEALTH_BATCH_SIZE", 50)
# Most dependencies claimed in one tick; the rest wait for the next tick. With Celery, the
# batches still waiting in the queue count against it.
SEAHEALTH_CLAIM_LIMIT = env_positive("SEAHEALTH_CLAIM_LIMIT", 2000)
# Most probes runprobes has claimed and not yet recorded (it claims two ticks ahead: at 10,000
# dependencies every 30 s, some 700).
SEAHEALTH_MAX_IN_FLIGHT = env_positive("SEAHEALTH_MAX_IN_FLIGHT", 5000)
# How long raw probe results (and the minute rollups, which repeat them) are kept, and how
# long the hour and day rollups that every uptime figure and longer chart come from are.
SEAHEALTH_RAW_RETENTION = env_duration("SEAHEALTH_RAW_RETENTION", "7d")
SEAHEALTH_ROLLUP_RETENTION = env_duration("SEAHEALTH_ROLLUP_RETENTION", "400d")
if SEAHEALTH_ROLLUP_RETENTION.days < 30:
    raise ImproperlyConfigured(
        f"SEAHEALTH_ROLLUP_RETENTION "
        f"({format_duration(SEAHEALTH_ROLLUP_RETENTION.total_seconds())}) must be at least "
        "30d, the longest uptime window"
    )
if SEAHEALTH_ROLLUP_RETENTION < SEAHEALTH_RAW_RETENTION:
    raise ImproperlyConfigured(
        f"SEAHEALTH_ROLLUP_RETENTION "
        f"({format_duration(SEAHEALTH_ROLLUP_RETENTION.total_seconds())}) must be at least "
        f"SEAHEALTH_RAW_RETENTION ({format_duration(SEAHEALTH_RAW_RETENTION.total_seconds())})"
    )

# The monthly report's months (/dependencies/<name>/report, manage.py slo_report) run from
# midnight to midnight in this IANA zone (Europe/Berlin); UTC unless set.
SEAHEALTH_REPORT_TIMEZONE = env.str("SEAHEALTH_REPORT_TIMEZONE", default="").strip() or "UTC"
if problem := zone_problem(SEAHEALTH_REPORT_TIMEZONE):
    raise ImproperlyConfigured(f"SEAHEALTH_REPORT_TIMEZONE: {problem}")

# --- notifications ---
# Where people reach the pages: the links notifications carry (https://status.example.com).
SEAHEALTH_BASE_URL = env_base_url("SEAHEALTH_BASE_URL", "http://127.0.0.1:8000")
# The email channels' server, as a URL (smtp+tls://user:password@smtp.example.com:587, or
# EMAIL_URL_FILE); consolemail:// prints them instead.
# EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS...
globals().update(env_email("EMAIL_URL", "smtp://localhost:25"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="seahealth@localhost")
# How long one attempt to send a notification may take, in seconds (a request, an SMTP
# conversation): a receiver that hangs costs this, and the message is tried again.
SEAHEALTH_NOTIFY_TIMEOUT = env_positive("SEAHEALTH_NOTIFY_TIMEOUT", 10.0, float)
EMAIL_TIMEOUT = SEAHEALTH_NOTIFY_TIMEOUT
# A failed attempt is tried again after a random wait from zero to this many seconds,
# doubled after each failure (full jitter), and never more than SEAHEALTH_NOTIFY_RETRY_MAX.
SEAHEALTH_NOTIFY_RETRY_FIRST = env_positive("SEAHEALTH_NOTIFY_RETRY_FIRST", 2.0, float)
SEAHEALTH_NOTIFY_RETRY_MAX = env_positive("SEAHEALTH_NOTIFY_RETRY_MAX", 600.0, float)
# How long sent, dead and cancelled notifications stay on /notifications/.
SEAHEALTH_NOTIFICATION_RETENTION = env_duration("SEAHEALTH_NOTIFICATION_RETENTION", "30d")
