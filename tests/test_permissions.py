"""What may be an import target (the project's own models), and who may import into it."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection

from importer.forms import target_choices
from importer.mapping import TableMapping
from importer.permissions import is_target, replaces_user_model, target_models

PROJECT_MODELS = [
    # the PostgreSQL-only test app (ArrayField) is installed only there
    *(["pgapp.Labelled"] if connection.vendor == "postgresql" else []),
    "production.Product",
    "production.PushToProduction",
    "stock.Stock",
    "stock.StockRemarks",
    "testapp.Article",
    "testapp.Counter",
    "testapp.Reading",
    "testapp.Tag",
    "undo.StockTransaction",
    "undo.UndoAction",
    "users.Group",
    "users.User",
]


def test_the_targets_are_the_projects_own_models():
    assert [model._meta.label for model in target_models()] == PROJECT_MODELS


def test_the_target_select_offers_raw_skip_and_the_projects_models():
    choices = target_choices()
    assert [value for value, _label in choices[:2]] == ["raw", "skip"]
    assert choices[2][0] == "Models"
    assert [value for value, _label in choices[2][1]] == PROJECT_MODELS
    assert len(choices) == 3


@pytest.mark.parametrize(
    "label",
    [
        "admin.LogEntry",
        "auth.Group",
        "auth.Permission",
        "contenttypes.ContentType",
        "sessions.Session",
        "django_tasks_database.DBTaskResult",
        "importer.ImportJob",
        "importer.TableImport",
    ],
)
def test_bookkeeping_of_django_installed_packages_and_the_importer_is_never_a_target(label):
    assert is_target(apps.get_model(label)) is False


@pytest.mark.parametrize("label", ["importer.RawItem", "users.User", "stock.Stock"])
def test_the_raw_model_the_user_model_and_project_models_are_targets(label):
    assert is_target(apps.get_model(label)) is True


def test_the_target_apps_setting_names_the_target_apps(settings):
    settings.DYNAMODB_IMPORTER = {**settings.DYNAMODB_IMPORTER, "TARGET_APPS": ["stock"]}
    # The user model stays a target, whatever the setting.
    assert [model._meta.label for model in target_models()] == [
        "stock.Stock",
        "stock.StockRemarks",
        "users.User",
    ]


@pytest.mark.parametrize(
    ("target", "mode", "expected"),
    [
        ("users.User", "replace", True),
        ("users.user", "replace", True),
        ("users.User", "upsert", False),
        ("users.Group", "replace", False),
        ("raw", "replace", False),
        ("nope.Model", "replace", False),
    ],
)
def test_replacing_the_user_model_is_recognised(target, mode, expected):
    assert replaces_user_model(TableMapping(table="users", target=target, mode=mode)) is expected
