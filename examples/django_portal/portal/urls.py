"""The example portal's URLs: its home page, the admin, and the onboarding app at the root."""

from django.contrib import admin

# cegema: begin
from django.urls import include, path

# cegema: end
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    # The portal's home page: here, straight to the members' login.
    path("", RedirectView.as_view(pattern_name="cegema_onboarding:login"), name="home"),
    # cegema: begin
    path("", include("cegema_onboarding.integrations.django.urls")),
    # cegema: end
]
