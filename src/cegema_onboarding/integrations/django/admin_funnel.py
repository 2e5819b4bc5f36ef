"""The onboarding funnel in the Django admin: a page beside the member accounts.

The same funnel as ``cegema-onboarding stats`` (:mod:`cegema_onboarding.funnel`), at
``<admin>/cegema_onboarding/onboardingaccount/funnel/``, linked from the accounts' list,
for staff who may view the accounts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

# STEP_KEYS is imported from here too (it was defined here before the command line used it).
from ...funnel import STEP_KEYS as STEP_KEYS
from ...funnel import build_funnel, format_duration
from ...ports import StatsReader
from .conf import get_service
from .names import admin_lang, admin_message

if TYPE_CHECKING:
    from django.contrib import admin

    _Base = admin.ModelAdmin[Any]
else:
    _Base = object

__all__ = ["FunnelAdminMixin"]

_DEFAULT_DAYS = 7


class FunnelAdminMixin(_Base):
    """Adds the funnel page to a ModelAdmin, and a link to it on the list."""

    change_list_template = "admin/cegema_onboarding/onboardingaccount/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        """The funnel's URL before the model's own (whose catch-all would take it)."""
        funnel = path("funnel/", self.admin_site.admin_view(self.funnel_view),
                      name="cegema_onboarding_funnel")
        return [funnel, *super().get_urls()]

    def changelist_view(self, request: HttpRequest,
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The list, with the funnel's link named in the staff's language."""
        context = {"cegema_funnel_link": admin_message("ui.admin.funnel.title"),
                   **(extra_context or {})}
        return super().changelist_view(request, context)

    def funnel_view(self, request: HttpRequest) -> HttpResponse:
        """The funnel: counts, shares, medians and members stuck."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            days = max(0, int(request.GET.get("days", _DEFAULT_DAYS)))
        except ValueError:
            days = _DEFAULT_DAYS
        service = get_service()
        storage = service.storage
        if not isinstance(storage, StatsReader):
            raise PermissionDenied("this storage cannot count")
        funnel = build_funnel(storage, service.clock.now(), awaiting_days=days)
        rows = [{"name": s.name, "label": admin_message(STEP_KEYS[s.name]), "count": s.count,
                 "percent": round(s.share * 100, 1),
                 "median": format_duration(s.median_since_previous, admin_lang())}
                for s in funnel.steps]
        texts = {key: admin_message(f"ui.admin.funnel.{key}") for key in (
            "step", "members", "share", "median", "email_step", "stuck")}
        texts["waiting"] = admin_message("ui.admin.funnel.waiting",
                                         pending=funnel.email_pending,
                                         awaiting=funnel.awaiting_activation)
        texts["link_expired"] = admin_message("ui.admin.funnel.link_expired",
                                              count=funnel.link_expired)
        texts["awaiting_longer"] = admin_message("ui.admin.funnel.awaiting_longer",
                                                 days=funnel.awaiting_days,
                                                 count=funnel.awaiting_longer)
        context = {**self.admin_site.each_context(request),
                   "title": admin_message("ui.admin.funnel.title"), "opts": self.model._meta,
                   "funnel": funnel, "rows": rows, "texts": texts}
        return TemplateResponse(request, "admin/cegema_onboarding/funnel.html", context)
