"""The onboarding funnel: how many members finished their first connection, and where
the others stop. What ``cegema-onboarding stats`` prints and plots.

The counts come from the stage each account stands in now (a member further along has
passed every step before it): one count per stage, which an index answers. The median
time between two steps comes from the audit trail: from each member's first successful
record of one step to their first of the next, over the members who took both (audit
rows purged by retention take their members out of the medians, not out of the counts);
the storage computes it (:meth:`StatsReader.median_wait`), in SQL for ``SqlStorage``.
Members stuck are those whose validation link expired unused, and those awaiting
activation by staff for longer than the threshold.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from . import texts
from .model import LinkPurpose, LinkStatus, Stage
from .ports import AccountStore, StatsReader

__all__ = ["STEPS", "STEP_KEYS", "Funnel", "FunnelStep", "build_funnel", "format_duration",
           "format_share", "lower_median_wait", "plot", "render", "step_label"]

#: The funnel's steps: name, the stages of the members who reached it, and the audit
#: actions whose first record dates it.
STEPS: Sequence[tuple[str, frozenset[Stage], tuple[str, ...]]] = (
    ("provisioned", frozenset(Stage), ("provisioned",)),
    ("first login", frozenset(Stage) - {Stage.PROVISIONED}, ("login",)),
    ("email given or no-email",
     frozenset(Stage) - {Stage.PROVISIONED, Stage.EMAIL_REQUIRED},
     ("email_submitted", "activation_requested")),
    ("verified or activated",
     frozenset({Stage.PASSWORD_REQUIRED, Stage.QUESTION_REQUIRED, Stage.ACTIVE}),
     ("email_verified", "activation_approved", "email_verified_by_staff")),
    ("password set", frozenset({Stage.QUESTION_REQUIRED, Stage.ACTIVE}), ("password_set",)),
    ("active", frozenset({Stage.ACTIVE}), ("secret_answer_set",)),
)
#: Each step of :data:`STEPS` by the catalogue key of its name: the command line and the
#: Django admin's funnel page name the steps with the same texts.
STEP_KEYS: Mapping[str, str] = dict(zip(
    (name for name, _stages, _actions in STEPS),
    ("ui.admin.funnel.step.provisioned", "ui.admin.funnel.step.first_login",
     "ui.admin.funnel.step.email", "ui.admin.funnel.step.verified",
     "ui.admin.funnel.step.password", "ui.admin.funnel.step.active"), strict=True))
# Pages of the email-pending members read to find expired links.
_PAGE = 1000


@attrs.frozen
class FunnelStep:
    """One step: members who reached it, their share of all, and the median wait since
    the step before (None when no member took both)."""

    name: str
    count: int
    share: float
    median_since_previous: timedelta | None


@attrs.frozen
class Funnel:
    """The funnel, the split at the email step, and the members stuck."""

    steps: tuple[FunnelStep, ...]
    email_pending: int
    awaiting_activation: int
    link_expired: int
    awaiting_longer: int
    awaiting_days: int


def build_funnel(storage: StatsReader, now: datetime, *, awaiting_days: int = 7) -> Funnel:
    """The funnel of ``storage`` at ``now``; stuck: awaiting for more than ``awaiting_days``."""
    by_stage = storage.count_by_stage()
    total = sum(by_stage.values())
    medians = _medians(storage)
    steps = []
    for i, (name, stages, _) in enumerate(STEPS):
        count = sum(by_stage.get(stage, 0) for stage in stages)
        steps.append(FunnelStep(name, count, count / total if total else 0.0,
                                medians[i - 1] if i else None))
    awaiting_longer = storage.count_waiting_since(
        Stage.AWAITING_ACTIVATION, now - timedelta(days=awaiting_days))
    expired = _expired_links(storage, now) if by_stage.get(Stage.EMAIL_PENDING) else 0
    return Funnel(tuple(steps), by_stage.get(Stage.EMAIL_PENDING, 0),
                  by_stage.get(Stage.AWAITING_ACTIVATION, 0), expired, awaiting_longer,
                  awaiting_days)


def _medians(storage: StatsReader) -> list[timedelta | None]:
    """The median wait between each step and the next, over the members who took both."""
    return [storage.median_wait(STEPS[i][2], STEPS[i + 1][2]) for i in range(len(STEPS) - 1)]


def lower_median_wait(before: Mapping[str, datetime],
                      after: Mapping[str, datetime]) -> timedelta | None:
    """:meth:`StatsReader.median_wait` from each account's first time of both steps.

    For the adapters that compute it in Python; the lower median, as SQL's
    ``ORDER BY ... OFFSET (n - 1) / 2`` gives it.
    """
    waits = [after[k] - before[k] for k in after.keys() & before.keys()
             if after[k] >= before[k]]
    return statistics.median_low(waits) if waits else None


def _expired_links(storage: StatsReader, now: datetime) -> int:
    """Email-pending members whose validation link expired before they used it."""
    if not isinstance(storage, AccountStore):
        return 0
    expired = offset = 0
    while True:
        page = storage.list_by_stage(Stage.EMAIL_PENDING, limit=_PAGE, offset=offset)
        for account in page:
            live = [link for link in account.links
                    if link.purpose is LinkPurpose.VERIFY_EMAIL
                    and link.status is LinkStatus.LIVE]
            if not live or all(link.expires_at <= now for link in live):
                expired += 1
        if len(page) < _PAGE:
            return expired
        offset += _PAGE


def format_duration(value: timedelta | None, lang: str = "en") -> str:
    """A wait as people read it: minutes, hours, or days; "-" for none.

    The units and the decimal separator come from the catalogues
    (``ui.admin.funnel.duration.*``); English by default, as the command line printed it
    before it spoke French.
    """
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    if seconds < 3600:
        return texts.text("ui.admin.funnel.duration.minutes", lang,
                          minutes=seconds // 60, seconds=f"{seconds % 60:02d}")
    if seconds < 86400:
        return texts.text("ui.admin.funnel.duration.hours", lang,
                          hours=seconds // 3600, minutes=f"{seconds % 3600 // 60:02d}")
    whole, tenths = f"{seconds / 86400:.1f}".split(".")
    return texts.text("ui.admin.funnel.duration.days", lang, whole=whole, tenths=tenths)


def format_share(share: float, lang: str = "en") -> str:
    """A share of the members as a percentage with one decimal, from the catalogues
    (``ui.admin.funnel.percent``: "21.4%", "21,4 %")."""
    whole, tenths = f"{share * 100:.1f}".split(".")
    return texts.text("ui.admin.funnel.percent", lang, whole=whole, tenths=tenths)


def step_label(name: str, lang: str = "en") -> str:
    """The name of the step ``name`` (one of :data:`STEPS`) in ``lang``."""
    return texts.text(STEP_KEYS[name], lang)


def render(funnel: Funnel, lang: str = "en") -> str:
    """The funnel as the plain-text table the command prints, in ``lang``: the texts of
    the Django admin's funnel page (``ui.admin.funnel.*``), so that both say the same."""

    def say(key: str, **params: object) -> str:
        return texts.text(f"ui.admin.funnel.{key}", lang, **params)

    head = (say("step"), say("members"), say("share"), say("median"))
    rows = [(step_label(s.name, lang), str(s.count), format_share(s.share, lang),
             format_duration(s.median_since_previous, lang)) for s in funnel.steps]
    # Columns as wide as their longest cell: French names are longer than English ones.
    name_w, count_w, share_w = (max(len(row[i]) for row in (head, *rows)) for i in range(3))
    lines = [f"{name:<{name_w}} {count:>{count_w}} {share:>{share_w}}  {median}"
             for name, count, share, median in (head, *rows)]
    lines += [
        "",
        say("email_step"),
        "  " + say("waiting", pending=funnel.email_pending,
                   awaiting=funnel.awaiting_activation),
        say("stuck"),
        "  " + say("link_expired", count=funnel.link_expired),
        "  " + say("awaiting_longer", days=funnel.awaiting_days,
                   count=funnel.awaiting_longer),
    ]
    return "\n".join(lines) + "\n"


def plot(funnel: Funnel, path: str, lang: str = "en") -> None:
    """Draw the funnel as horizontal bars into ``path`` (matplotlib, imported here only),
    labelled in ``lang``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [step_label(s.name, lang) for s in funnel.steps][::-1]
    counts = [s.count for s in funnel.steps][::-1]
    fig, ax = plt.subplots(figsize=(8, 4))
    bars = ax.barh(names, counts, color="#2f6f9f")
    for bar, step in zip(bars, funnel.steps[::-1], strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                f" {step.count} ({format_share(step.share, lang)})", va="center")
    ax.set_xlabel(texts.text("ui.admin.funnel.members", lang))
    ax.set_title(texts.text("ui.admin.funnel.title", lang))
    ax.set_xlim(0, max(counts, default=0) * 1.25 or 1)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

