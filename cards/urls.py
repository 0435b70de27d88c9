"""URLs of the cards app.

``urlpatterns`` are dashboard pages mounted at /cards/; ``public_urlpatterns`` are the
customer-facing pages mounted at the site root; ``settings_urlpatterns`` at /settings/programs/.
"""

from django.urls import path

app_name = "cards"

# Dashboard: /cards/<serial>/...
urlpatterns: list = []

# Customer-facing: join pages and the card itself.
public_urlpatterns: list = []

# Settings: /settings/programs/...
settings_urlpatterns: list = []
