from django.apps import AppConfig


class PushesConfig(AppConfig):
    name = "pushes"
    verbose_name = "Push notifications"
