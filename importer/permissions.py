"""What may be an import target, and whether a user may import into it.

Targets are the project's own models: those of apps whose code lives in the project, not in Django
(sessions, content types, permissions, the admin log) nor in an installed package (task queues
such as django_tasks_db, Celery results, ...), plus the raw landing model and the user model
(`AUTH_USER_MODEL`, even when it is Django's `auth.User`). The importer's job tables and proxy
models are never targets. A user needs the target model's add and change permissions, and delete
for replace mode, as the admin would ask; the command line runs as whoever runs it and is not
checked.
"""

from __future__ import annotations

import site
import sysconfig
from functools import cache
from pathlib import Path
from typing import Any

import django
from django.apps import AppConfig, apps
from django.conf import settings
from django.contrib.auth import get_permission_codename
from django.db import models

from .conf import get_settings
from .errors import MappingError
from .mapping import RAW, SKIP, Mode, TableMapping, resolve_model

RAW_MODEL = "importer.RawItem"


def is_target(model: type[models.Model]) -> bool:
    """True for a model an export may be imported into."""
    if model._meta.label == RAW_MODEL or is_user_model(model):
        return True
    if model._meta.proxy or model._meta.app_label == "importer":
        return False
    return is_project_app(model._meta.app_config)


def is_project_app(app_config: AppConfig) -> bool:
    """True for an app of the project itself: its code lies outside Django and installed packages.

    The TARGET_APPS setting, when given, names them instead.
    """
    chosen = get_settings().target_apps
    if chosen is not None:
        return app_config.label in chosen
    if app_config.name == "django" or app_config.name.startswith("django."):
        return False
    path = Path(app_config.path).resolve()
    return not any(path.is_relative_to(root) for root in _installed_roots())


@cache
def _installed_roots() -> tuple[Path, ...]:
    """Where Django and installed packages live (site-packages, dist-packages)."""
    paths = sysconfig.get_paths()
    roots = {paths["purelib"], paths["platlib"], *site.getsitepackages()}
    roots.add(site.getusersitepackages())
    return (Path(django.__file__).resolve().parent, *(Path(root).resolve() for root in roots))


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
