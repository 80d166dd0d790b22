"""Test settings: the host project plus a small app whose models cover every case in CASES.md.

The suite runs against PostgreSQL over a real connection (DATABASE_URL, set by bin/test);
without DATABASE_URL it falls back to SQLite.
"""

from backend.settings import *  # noqa: F403
from backend.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
