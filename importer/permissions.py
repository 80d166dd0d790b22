"""What may be an import target, and whether a user may import into it.

Django's own bookkeeping (sessions, content types, permissions, the admin log, task queues) and the
importer's job tables are never targets. A user needs the target model's add and change
permissions, and delete for replace mode, as the admin would ask; the command line runs as whoever
runs it and is not checked.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_permission_codename
from django.db import models

from .errors import MappingError
from .mapping import RAW, SKIP, Mode, TableMapping, resolve_model

NOT_TARGET_APPS = frozenset({"admin", "auth", "contenttypes", "sessions", "django_tasks_db"})
RAW_MODEL = "importer.RawItem"


def is_target(model: type[models.Model]) -> bool:
    """True for a model an export may be imported into."""
    label = model._meta.label
    app_label = model._meta.app_label
    if label == RAW_MODEL:
        return True
    return not (app_label in NOT_TARGET_APPS or app_label == "importer" or model._meta.proxy)


def target_models() -> list[type[models.Model]]:
    """Every model of the project that an export can go into (RawItem not included)."""
    return sorted(
        (
            model
            for model in apps.get_models()
            if is_target(model) and model._meta.label != RAW_MODEL
        ),
        key=lambda model: model._meta.label,
    )


def is_user_model(model: type[models.Model]) -> bool:
    """True for the project's user model (AUTH_USER_MODEL)."""
    return model._meta.label_lower == settings.AUTH_USER_MODEL.lower()


def replaces_user_model(mapping: TableMapping) -> bool:
    """True when the mapping clears the user model first (replace mode): every login goes."""
    if mapping.mode != Mode.REPLACE or mapping.target in (RAW, SKIP):
        return False
    try:
        return is_user_model(resolve_model(mapping.target))
    except MappingError:  # an unknown model: validation says so
        return False


def missing_permissions(user: Any, mapping: TableMapping) -> list[str]:
    """The permissions `user` lacks to import this table as mapped ("stock.add_stock", ...)."""
    if mapping.target == SKIP:
        return []
    model = resolve_model(mapping.target if mapping.target != RAW else RAW)
    actions = ["add", "change"] + (["delete"] if mapping.mode == Mode.REPLACE else [])
    wanted = [
        f"{model._meta.app_label}.{get_permission_codename(action, model._meta)}"
        for action in actions
    ]
    return [permission for permission in wanted if not user.has_perm(permission)]
