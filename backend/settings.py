"""Settings of the host project: the demo apps plus the reusable `importer` app.

SQLite by default (nothing to install); set DATABASE_URL to use PostgreSQL, e.g.
DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("IMPORTER_VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me-in-production")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_tasks_db",
    "importer",
    "backend.users",
    "backend.stock",
    "backend.production",
    "backend.undo",
    "backend.samples",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "backend.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "backend" / "templates"],
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

WSGI_APPLICATION = "backend.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read progress while an import's transaction is open.
    DATABASES["default"]["OPTIONS"] = {"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20}
else:
    # A second connection to the same database: a worker writes a job's progress (and a dry run's
    # row outcomes) through it, so the web process sees them while the import's transaction is
    # still open. SQLite has one writer at a time, so there progress goes to the cache below.
    DATABASES["progress"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}

# Where a job's progress is written on SQLite (shared by the web process and the worker on one
# machine). On PostgreSQL the "progress" database connection above is used instead.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "progress": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": VAR_DIR / "cache" / "progress",
    },
}

# Background tasks (analysis, dry run, import: importer/tasks.py) run through Django's Tasks
# framework. IMPORTER_TASKS picks the backend:
#   database  (default) django-tasks-db: `manage.py db_worker` runs them (bin/run starts one)
#   celery    django-tasks-celery: `celery -A backend worker` runs them; broker CELERY_BROKER_URL
#   immediate in the web request itself (no worker; for debugging)
IMPORTER_TASKS = os.environ.get("IMPORTER_TASKS", "database")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_TASK_IGNORE_RESULT = True  # the job row holds the outcome; no result backend needed
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # an import is long: take one at a time
CELERY_TASK_ACKS_LATE = False  # a task whose worker dies is not re-run by itself: Retry is explicit
match IMPORTER_TASKS:
    case "celery":
        TASKS = {
            "default": {
                "BACKEND": "django_tasks_celery.CeleryBackend",
                "OPTIONS": {"CELERY_APP": "backend.celery.app"},
            }
        }
    case "immediate":
        TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    case "database":
        TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    case _:
        raise ValueError(f"IMPORTER_TASKS={IMPORTER_TASKS!r}: use database, celery or immediate")

AUTH_USER_MODEL = "users.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

LOGIN_URL = "admin:login"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# The importer's own settings (see importer/conf.py for every key and its default).
DYNAMODB_IMPORTER = {
    "TABLE_MODEL_MAP": {
        "users": "users.User",
        "Groups": "users.Group",
        "stock": "stock.Stock",
        "stock_remarks": "stock.StockRemarks",
        "production": "production.Product",
        "push_to_production": "production.PushToProduction",
        "stock_transactions": "undo.StockTransaction",
        "undo_actions": "undo.UndoAction",
    },
}
