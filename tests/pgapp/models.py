"""Models with fields only PostgreSQL has. tests/settings.py installs this app only on PostgreSQL,
so the suite still migrates on SQLite."""

from django.contrib.postgres.fields import ArrayField
from django.db import models


class Labelled(models.Model):
    """A string set into an ArrayField(CharField) (CASES.md C04)."""

    code = models.CharField(max_length=20, unique=True)
    labels = ArrayField(models.CharField(max_length=10), default=list, blank=True)

    def __str__(self) -> str:
        return self.code
