from django.apps import AppConfig


class StockConfig(AppConfig):
    name = "backend.stock"
    label = "stock"
