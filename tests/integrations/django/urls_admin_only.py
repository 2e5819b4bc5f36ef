"""A URLconf that forgot the onboarding app's URLs (for the checks)."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
