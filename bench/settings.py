"""Settings for the benchmark: the project's settings plus the bench app, DEBUG off.

The database comes from DATABASE_URL (see backend/settings.py), set per measurement by bench/run.py.
"""

from backend.settings import *  # noqa: F403
from backend.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.benchapp"]
# DEBUG would route every query through Django's debug cursor (timing and logging each one);
# a benchmark measures what production runs.
DEBUG = False
ALLOWED_HOSTS = ["*"]
