from django.apps import AppConfig


class ProductionConfig(AppConfig):
    name = "backend.production"
    label = "production"
