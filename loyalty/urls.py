from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from loyalty import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("merchant/switch/", views.merchant_switch, name="merchant_switch"),
    path("healthz", views.healthz, name="healthz"),
    path("customers/", include("customers.urls")),
    path("cards/", include("cards.urls")),
    path("admin/", admin.site.urls),
]
