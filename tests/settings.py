"""Test settings: the host project plus a small app whose models cover every case in CASES.md.

The suite runs against PostgreSQL over a real connection (DATABASE_URL, set by bin/test);
without DATABASE_URL it falls back to SQLite.
"""

from backend.settings import *  # noqa: F403
from backend.settings import CACHES, DATABASES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Fields only PostgreSQL has (ArrayField): an app of their own, so SQLite still migrates.
    INSTALLED_APPS += ["django.contrib.postgres", "tests.pgapp"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tasks run inside the request that enqueues them. The worker tests (tests/test_tasks.py) start
# real db_worker and Celery processes with backend.settings instead.
TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
# In-process tests run inside one test transaction that a second connection cannot see, so they
# record progress in the cache (as on SQLite); the worker tests use the "progress" connection.
DATABASES = {alias: config for alias, config in DATABASES.items() if alias != "progress"}
CACHES = {**CACHES, "progress": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The Celery worker test uses its own Redis database (it empties it first).
CELERY_BROKER_URL = "redis://127.0.0.1:6379/15"
