"""A reusable Django app: models, migrations, views, admin and commands for the journey.

Add ``"cegema_onboarding.integrations.django"`` to ``INSTALLED_APPS`` (its label is
``cegema_onboarding``), configure ``CEGEMA_ONBOARDING`` in the settings, run ``migrate``
and include ``cegema_onboarding.integrations.django.urls``. See docs/django.md.
"""
