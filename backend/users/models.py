"""Users and groups, as the team kept them in DynamoDB (`users`, `Groups`)."""

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MANAGER = "manager", "Manager"
        OPERATOR = "operator", "Operator"
        VIEWER = "viewer", "Viewer"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    phone = models.CharField(max_length=32, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    preferences = models.JSONField(default=dict, blank=True)
    is_verified = models.BooleanField(default=False)
    last_seen_at = models.DateTimeField(null=True, blank=True)


class Group(models.Model):
    """A team group (integer ids from DynamoDB; not Django's auth.Group)."""

    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    permissions = models.JSONField(default=list, blank=True)
    member_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name
