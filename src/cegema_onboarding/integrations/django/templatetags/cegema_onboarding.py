"""``{% cegema_text "key" name=value %}``: a member-facing text in the active language."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import get_language

from .... import texts
from ..conf import get_service

register = template.Library()


@register.simple_tag
def cegema_text(key: str, **params: Any) -> str:
    """The catalogue text of ``key`` (French unless Django's active language is English)."""
    params.setdefault("brand", get_service().settings.mail.brand)
    return texts.text(key, get_language(), **params)
