from django.apps import AppConfig


class SamplesConfig(AppConfig):
    name = "backend.samples"
    label = "samples"
