"""The app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class CegemaOnboardingConfig(AppConfig):
    """The onboarding app; registers its checks and keeps the service in step with settings."""

    name = "cegema_onboarding.integrations.django"
    label = "cegema_onboarding"
    verbose_name = "CEGEMA onboarding"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register the system checks and the settings-change hook."""
        from django.core.signals import setting_changed

        from .checks import register
        from .conf import on_setting_changed

        register()
        setting_changed.connect(on_setting_changed)
