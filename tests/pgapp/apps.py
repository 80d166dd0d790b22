from django.apps import AppConfig


class PgappConfig(AppConfig):
    name = "tests.pgapp"
    label = "pgapp"
