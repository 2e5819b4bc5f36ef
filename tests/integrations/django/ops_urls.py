"""A test project that includes the ops endpoints at a prefix of its choosing."""

from django.urls import include, path

urlpatterns = [
    path("_ops/", include("cegema_onboarding.integrations.django.health")),
    path("", include("cegema_onboarding.integrations.django.urls")),
]
