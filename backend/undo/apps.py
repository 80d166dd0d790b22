from django.apps import AppConfig


class UndoConfig(AppConfig):
    name = "backend.undo"
    label = "undo"
