"""The admin: member accounts, the no-email queue, the audit trail and the outbox.

Nothing is edited in place. Every staff action goes through :class:`OnboardingService`, so
the flow's rules apply and each action is audited with the staff user
(``staff:<username>``) and their IP address.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from ...flow import Refused
from ...service import describe
from ...service.staff import activation_request
from .admin_funnel import FunnelAdminMixin
from .conf import get_service
from .models import (
    NoEmailQueue,
    OnboardingAccount,
    OnboardingAudit,
    OnboardingNotice,
    OnboardingOutbox,
)
from .names import admin_message, admin_text
from .rows import account_from_row
from .session import client_ip

_MAX_REASON = 500

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Any]
else:
    # ModelAdmin is generic only in the type stubs.
    _ModelAdmin = admin.ModelAdmin


def _staff(request: HttpRequest) -> str:
    return str(request.user.get_username())


def _run(modeladmin: admin.ModelAdmin[Any], request: HttpRequest,
         queryset: QuerySet[OnboardingAccount], label: str,
         call: Callable[[str], object]) -> None:
    """Apply one service call per selected account and report the outcome."""
    done, refused = 0, []
    for row in queryset:
        result = call(row.account_id)
        if isinstance(result, Refused):
            refused.append(f"{row.member_number}: {describe(result)}")
        else:
            done += 1
    if done:
        modeladmin.message_user(
            request, admin_message("ui.admin.outcome.count", outcome=label, count=done),
            messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, f"{label} — {line}", messages.WARNING)


def _service_method(request: HttpRequest, modeladmin: admin.ModelAdmin[Any],
                    name: str) -> Callable[..., object] | None:
    method = getattr(get_service().staff, name, None)
    if method is None:
        modeladmin.message_user(request, f"this version of the service has no {name!r}",
                                messages.ERROR)
    return method


@admin.action(description=admin_text("ui.admin.action.activate"), permissions=["change"])
def activate(modeladmin: admin.ModelAdmin[Any], request: HttpRequest,
             queryset: QuerySet[OnboardingAccount]) -> None:
    """Staff activate no-email members."""
    service, staff, ip = get_service(), _staff(request), client_ip(request)
    _run(modeladmin, request, queryset, admin_message("ui.admin.outcome.activated"),
         lambda account_id: service.staff.activate(account_id, staff_id=staff, ip=ip))


@admin.action(description=admin_text("ui.admin.action.reject"), permissions=["change"])
def reject(modeladmin: admin.ModelAdmin[Any], request: HttpRequest,
           queryset: QuerySet[OnboardingAccount]) -> HttpResponse | None:
    """Ask for the reason on an intermediate page, then reject each request."""
    reason = str(request.POST.get("reason", "")).strip()[:_MAX_REASON]
    if request.POST.get("apply") and reason:
        service, staff, ip = get_service(), _staff(request), client_ip(request)
        _run(modeladmin, request, queryset, admin_message("ui.admin.outcome.rejected"),
             lambda account_id: service.staff.reject(account_id, reason, staff_id=staff, ip=ip))
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": admin_message("ui.admin.reject.title"),
        "reason_label": admin_message("ui.admin.reject.reason"),
        "missing_text": admin_message("ui.admin.reject.missing"),
        "submit_text": admin_message("ui.admin.reject.submit"),
        "queryset": queryset,
        "action": "reject",
        "opts": modeladmin.model._meta,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "missing_reason": bool(request.POST.get("apply")),
    }
    return TemplateResponse(request, "admin/cegema_onboarding/reject.html", context)


def _staff_action(name: str, label: str) -> Callable[..., None]:
    """An admin action calling ``service.staff.<name>``; its texts are ``ui.admin.action.<name>``
    and ``ui.admin.outcome.<label>``, in the staff's language."""

    @admin.action(description=admin_text(f"ui.admin.action.{name}"), permissions=["change"])
    def action(modeladmin: admin.ModelAdmin[Any], request: HttpRequest,
               queryset: QuerySet[OnboardingAccount]) -> None:
        method = _service_method(request, modeladmin, name)
        if method is None:
            return
        staff, ip = _staff(request), client_ip(request)
        _run(modeladmin, request, queryset, admin_message(f"ui.admin.outcome.{label}"),
             lambda account_id: method(account_id, staff_id=staff, ip=ip))

    action.__name__ = name
    return action


unlock = _staff_action("unlock", "unlocked")
disable = _staff_action("disable", "disabled")
enable = _staff_action("enable", "enabled")
mark_email_verified = _staff_action("mark_email_verified", "address_verified")


@admin.action(description=admin_text("ui.admin.action.reissue"), permissions=["change"])
def reissue(modeladmin: admin.ModelAdmin[Any], request: HttpRequest,
            queryset: QuerySet[OnboardingAccount]) -> HttpResponse | None:
    """New initial passwords: shown once on a page that is never cached, never stored."""
    method = _service_method(request, modeladmin, "reissue_credentials")
    if method is None:
        return None
    staff, ip = _staff(request), client_ip(request)
    issued: list[tuple[str, str, str]] = []
    for row in queryset:
        result = method(row.account_id, staff_id=staff, ip=ip)
        password = getattr(result, "initial_password", None)
        if isinstance(result, Refused) or not isinstance(password, str):
            text = (describe(result) if isinstance(result, Refused)
                    else admin_message("ui.admin.outcome.refused"))
            modeladmin.message_user(request, f"{row.member_number}: {text}", messages.WARNING)
            continue
        issued.append((row.member_number, row.name, password))
    if not issued:
        return None
    context = {**modeladmin.admin_site.each_context(request),
               "title": admin_message("ui.admin.reissued.title"), "issued": issued,
               "intro": admin_message("ui.admin.reissued.intro"),
               "columns": [admin_message(f"ui.admin.reissued.{c}")
                           for c in ("number", "name", "password")],
               "opts": modeladmin.model._meta}
    response = TemplateResponse(request, "admin/cegema_onboarding/reissued.html", context)
    # The passwords exist in clear only in this response: keep them out of every cache.
    response["Cache-Control"] = "no-store"
    return response


class _ReadOnly(_ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]


@admin.register(OnboardingAccount)
class OnboardingAccountAdmin(FunnelAdminMixin, _ReadOnly):
    """Members with their onboarding stage (and the funnel); staff actions run through the
    service."""

    list_display = ("member_number", "name", "stage", "email", "disabled", "user")
    list_filter = ("stage", "disabled")
    search_fields = ("member_number", "name", "email_key")
    exclude = ("data",)
    actions = (unlock, reissue, disable, enable, mark_email_verified, activate, reject)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        """Every column but the JSON record, which holds hashes."""
        return [f.name for f in self.model._meta.fields if f.name != "data"] + ["email"]

    @admin.display(description=admin_text("ui.admin.email"))
    def email(self, obj: OnboardingAccount) -> str:
        """The verified address, else the pending one."""
        data = obj.data if isinstance(obj.data, dict) else {}
        return str(data.get("email") or data.get("pending_email") or "")


@admin.register(NoEmailQueue)
class NoEmailQueueAdmin(_ReadOnly):
    """The members waiting for staff activation, oldest request first."""

    list_display = ("member_number", "name", "channel", "recipient", "queue_at")
    search_fields = ("member_number", "name")
    exclude = ("data",)
    actions = (activate, reject)
    ordering = ("queue_at", "account_id")

    # Staff must see how the member will be told before they activate (issue #15): the
    # service's own choice of channel and recipient, so the admin cannot drift from it.
    @admin.display(description=admin_text("ui.demo.staff.channel"))
    def channel(self, obj: NoEmailQueue) -> str:
        """The channel the activation notice will take."""
        request = activation_request(account_from_row(obj))
        return admin_message(f"label.channel.{request.channel.value}")

    @admin.display(description=admin_text("ui.demo.staff.recipient"))
    def recipient(self, obj: NoEmailQueue) -> str:
        """The postal address (on one line) or phone number the notice goes to."""
        found = activation_request(account_from_row(obj)).recipient
        if not found:
            return admin_message("ui.demo.staff.unknown_recipient")
        return ", ".join(line.strip() for line in found.splitlines() if line.strip())

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        """Only the accounts awaiting activation."""
        return super().get_queryset(request).filter(stage="awaiting_activation")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        """Every column but the JSON record, and how the member will be told."""
        return [f.name for f in self.model._meta.fields if f.name != "data"] + [
            "channel", "recipient"]


@admin.register(OnboardingAudit)
class OnboardingAuditAdmin(_ReadOnly):
    """The audit trail: who, what, when, from which IP, and how it ended."""

    list_display = ("at", "actor", "action", "outcome", "account_id", "ip")
    list_filter = ("action", "outcome")
    search_fields = ("account_id", "actor", "ip")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OnboardingOutbox)
class OnboardingOutboxAdmin(_ReadOnly):
    """Queued mail, without its sealed payload."""

    list_display = ("created_at", "kind", "channel", "status", "attempts", "next_attempt_at",
                    "last_error")
    list_filter = ("status", "kind", "channel")
    exclude = ("payload",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        """Every column but the payload."""
        return [f.name for f in self.model._meta.fields if f.name != "payload"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.action(description=admin_text("ui.admin.mark_handled"), permissions=["change"])
def mark_handled(modeladmin: admin.ModelAdmin[Any], request: HttpRequest,
                 queryset: QuerySet[OnboardingNotice]) -> None:
    """Staff passed these notices on to the members (by post, SMS or phone)."""
    count = queryset.filter(handled_at__isnull=True).update(
        handled_at=timezone.now(), handled_by=f"staff:{_staff(request)}")
    modeladmin.message_user(request, admin_message("ui.admin.marked_handled", count=count),
                            messages.SUCCESS)


class _Pending(admin.SimpleListFilter):
    """Pending notices first: the admin opens on what staff still have to send."""

    title = admin_text("ui.admin.filter.status")
    parameter_name = "pending"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", admin_message("ui.admin.filter.pending")),
                ("no", admin_message("ui.admin.filter.handled"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "no":
            return queryset.filter(handled_at__isnull=False)
        if self.value() == "yes":
            return queryset.filter(handled_at__isnull=True)
        return queryset


@admin.register(OnboardingNotice)
class OnboardingNoticeAdmin(_ReadOnly):
    """Notices for members without email, until staff mark them handled."""

    list_display = ("created_at", "member_number", "name", "channel", "kind", "text",
                    "handled_at", "handled_by")
    list_filter = (_Pending, "channel", "kind")
    search_fields = ("member_number", "name", "account_id")
    actions = (mark_handled,)
