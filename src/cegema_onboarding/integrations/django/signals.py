"""Signals of the Django app, for hosts: ``journey_completed``.

Connect a receiver to do the host's own work once a member has finished the first
connection (create a CRM record, welcome them)::

    from django.dispatch import receiver
    from cegema_onboarding.integrations.django.signals import journey_completed

    @receiver(journey_completed)
    def welcome(sender, request, member, **kwargs):
        ...

``member`` is the :class:`~.member.CurrentMember` who just finished; the signal goes once
per account, when the journey's last step (the password or the secret question) reaches
the profile, as the Flask integration's signal of the same name does.
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["journey_completed"]

#: Sent with ``request`` and ``member`` when a member's journey reaches the profile.
journey_completed = Signal()
