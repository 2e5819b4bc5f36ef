"""The test project's URLs: the app at the root, and the admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("cegema_onboarding.integrations.django.urls")),
]
