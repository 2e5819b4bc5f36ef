"""The example portal's URLs: the onboarding app at the root, the admin under /admin/."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(pattern_name="cegema_onboarding:login"), name="home"),
    path("", include("cegema_onboarding.integrations.django.urls")),
]
