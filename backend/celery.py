"""The Celery app for IMPORTER_TASKS=celery: `celery -A backend worker` runs the importer's tasks.

django-tasks-celery registers every `@task` with this app when its module is imported, so the
worker imports each installed app's `tasks` module (autodiscovery) and Django's settings first.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
os.environ.setdefault("IMPORTER_TASKS", "celery")

app = Celery("backend")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
