"""An authentication backend: an onboarded member logs in as a Django user.

``authenticate(request, member_number=..., password=...)`` runs the service's login. The
result (next step or refusal) is left on ``request.cegema_result`` for the view. Only a
member whose journey is complete gets a Django user: it is created on first login (or
linked, once, by the account's one-to-one field) with an unusable Django password, so the
library's Argon2 hash stays the only credential.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from ...model import Step
from ...service import Ok
from .conf import get_service, option
from .session import client_ip, user_agent

log = logging.getLogger("cegema_onboarding.django")

USERNAME_PREFIX = "cegema-"


class OnboardingBackend(BaseBackend):
    """Authenticates members with their member number and password through the service."""

    def authenticate(self, request: HttpRequest | None, member_number: str | None = None,
                     password: str | None = None, remember: bool = False,
                     **kwargs: Any) -> AbstractBaseUser | None:
        """The member's Django user when the login succeeds and the journey is complete."""
        if member_number is None or password is None:
            return None
        service = get_service()
        result = service.login(
            member_number, password,
            ip=client_ip(request) if request is not None else None,
            user_agent=user_agent(request) if request is not None else None,
            remember=remember)
        if request is not None:
            request.cegema_result = result  # type: ignore[attr-defined]
        if not isinstance(result, Ok) or result.session is None:
            return None
        if result.step is not Step.PROFILE or not option("CREATE_USERS"):
            return None
        return user_for_account(result.session.account_id)

    def get_user(self, user_id: Any) -> AbstractBaseUser | None:
        """The active user with this primary key."""
        model = get_user_model()
        user = model._default_manager.filter(pk=user_id).first()
        if user is None or not getattr(user, "is_active", True):
            return None
        return user


def user_for_account(account_id: str) -> AbstractBaseUser | None:
    """The Django user linked to a member account, created and linked on first use."""
    service = get_service()
    storage = service.storage
    account = storage.get(account_id)
    if account is None or account.disabled:
        return None
    model = get_user_model()
    get_user_id = getattr(storage, "get_user_id", None)
    link_user = getattr(storage, "link_user", None)
    if get_user_id is None or link_user is None:
        return None
    user_id = get_user_id(account_id)
    if user_id is not None:
        linked = model._default_manager.filter(pk=user_id).first()
        if linked is not None:
            return linked if getattr(linked, "is_active", True) else None
    username = f"{USERNAME_PREFIX}{account.member_number}"
    username_field = str(model.USERNAME_FIELD)  # type: ignore[attr-defined]
    fields: dict[str, Any] = {username_field: username}
    email_field = model.get_email_field_name()
    if account.email and any(f.name == email_field for f in model._meta.get_fields()):
        fields[email_field] = account.email
    try:
        with transaction.atomic():
            if model._default_manager.filter(**{username_field: username}).exists():
                # Someone else's user already has this name: never adopt it silently.
                log.warning("a Django user named like member account %s exists and is not "
                            "linked to it; not logging in", account_id)
                return None
            user = model._default_manager.create_user(**fields)  # type: ignore[attr-defined]
            user.set_unusable_password()
            user.save()
            link_user(account_id, user.pk)
    except IntegrityError:
        # A concurrent first login created it; use that one.
        user_id = get_user_id(account_id)
        return None if user_id is None else model._default_manager.filter(pk=user_id).first()
    assert isinstance(user, AbstractBaseUser)
    return user
