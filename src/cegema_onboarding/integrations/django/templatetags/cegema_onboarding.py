"""``{% cegema_text "key" name=value %}``: a member-facing text in the active language."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from .... import texts
from ..conf import get_service

register = template.Library()


@register.simple_tag
def cegema_text(key: str, **params: Any) -> str:
    """The catalogue text of ``key`` (French unless Django's active language is English)."""
    params.setdefault("brand", get_service().settings.mail.brand)
    return texts.text(key, get_language(), **params)


@register.simple_tag(takes_context=True)
def cegema_invalid(context: template.Context, name: str, form: str | None = None) -> str:
    """`` aria-invalid="true" aria-describedby="cegema-error"`` on the field ``name`` when
    the page shows a refusal of that field (``error_field``); nothing otherwise.

    ``form`` names the field's form on a page with several that share field names (the
    profile's): the field is marked only when that form was the one refused
    (``error_form``). The message is base.html's ``#cegema-error``, a ``role="alert"``
    region: assistive technologies announce it, and read it again on the field.
    """
    if form is not None and context.get("error_form") != form:
        return ""
    if context.get("error") and context.get("error_field") == name:
        return mark_safe(' aria-invalid="true" aria-describedby="cegema-error"')
    return ""
