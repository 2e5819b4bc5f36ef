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
        """Register the system checks and the settings-change hook; redact runserver's log."""
        from django.core.signals import setting_changed

        from ..logfilter import redact_tokens_in
        from .checks import register
        from .conf import on_setting_changed

        register()
        setting_changed.connect(on_setting_changed)
        # runserver logs each request line on "django.server", the first GET of a mailed
        # link included. Django has configured logging by now, and reconfiguring it later
        # keeps a logger's filters.
        redact_tokens_in("django.server")
