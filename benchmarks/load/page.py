"""The "Under load" section of docs/performance.md and its plot, from ``make load``'s figures.

The rest of the page belongs to ``make perf`` (benchmarks/report.py), which keeps this
section, between its two markers, when it rewrites the page.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BEGIN = "<!-- make load: begin -->"
END = "<!-- make load: end -->"
IMAGE = "perf-load.png"
LOGIN_GOAL = 0.7
BESIDE_GOAL_MS = 5.0
#: Argon2id computations in one whole journey, as benchmarks.flask_bench counts them on
#: the same journey (the hasher's calls).
JOURNEY_HASHES = 6


def derived(figures: dict[str, Any]) -> dict[str, Any]:
    """The page's figures from the raw run: rates, shares, latencies and CPU per login."""
    cores, hash_s = figures["cores"], figures["hash_ms"] / 1000
    login = figures["login"]
    row = login["rows"].get("login", {})
    logins = row.get("count", 0.0)
    rate = row.get("rate", 0.0)
    journey = figures["journey"]
    rows = journey["rows"]
    done = rows.get("completed", {})
    steps = {name: (r.get("p50", 0.0), r.get("p99", 0.0)) for name, r in sorted(rows.items())
             if name[:1].isdigit()}
    errors = sum(r.get("failures", 0.0) for r in rows.values())
    cheap = figures.get("cheap_login")
    cheap_count = cheap["rows"].get("login", {}).get("count", 0.0) if cheap else 0.0
    on_its_own = (1000 * cheap["worker_cpu"] / cheap_count - figures["cheap_hash_ms"]
                  if cheap and cheap_count else float("nan"))
    return {
        "on_its_own_ms": on_its_own,
        "bound": cores / hash_s,
        "login_rate": rate,
        "login_share": rate * hash_s / cores,
        "login_median_ms": row.get("p50", 0.0),
        "login_p99_ms": row.get("p99", 0.0),
        "login_count": int(logins),
        "login_errors": int(row.get("failures", 0.0)),
        "beside_ms": (1000 * login["worker_cpu"] / logins - figures["hash_ms"]
                      if logins else float("nan")),
        "worker_cpu_ms": 1000 * login["worker_cpu"] / logins if logins else float("nan"),
        "locust_share": login["locust_cpu"] / (login["wall"] * cores),
        "journeys": int(done.get("count", 0.0)),
        "journey_rate": done.get("rate", 0.0),
        "journey_bound": cores / (JOURNEY_HASHES * hash_s),
        "journey_steps": steps,
        "journey_errors": int(errors),
    }


def summary(figures: dict[str, Any]) -> list[str]:
    """A few lines for the terminal."""
    d = derived(figures)
    return [
        f"Argon2id alone: {figures['hash_ms']:.1f} ms; bound {d['bound']:.1f} logins/s",
        f"logins: {d['login_rate']:.1f}/s = {d['login_share']:.2f} of the bound, median "
        f"{d['login_median_ms']:.0f} ms, p99 {d['login_p99_ms']:.0f} ms, "
        f"{d['login_errors']} errors",
        f"worker CPU per login {d['worker_cpu_ms']:.1f} ms, beside the hash "
        f"{d['beside_ms']:.1f} ms (on its own, near-free hashes: {d['on_its_own_ms']:.1f} ms)",
        f"journeys: {d['journeys']} completed, {d['journey_rate']:.2f}/s, "
        f"{d['journey_errors']} errors",
    ]


def section(figures: dict[str, Any], image: str | None) -> str:
    """The Markdown of the section, markers included."""
    d = derived(figures)
    cores = figures["cores"]
    load_start = " / ".join(f"{x:.2f}" for x in figures["load_start"])
    load_end = " / ".join(f"{x:.2f}" for x in figures["load_end"])
    # The end of the run counts its own workers, locust and PostgreSQL: only the start
    # says whether other work shared the cores.
    busy = figures["load_start"][0] > cores / 2
    met = "met" if d["login_share"] >= LOGIN_GOAL else "**not met**"
    met_cpu = "met" if d["beside_ms"] <= BESIDE_GOAL_MS else "**not met**"
    lines = [
        BEGIN,
        "## Under load: gunicorn, PostgreSQL and locust",
        "",
        f"Written by `make load` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        "(`python -m benchmarks.load.run`). On loopback, on this machine: a throw-away "
        f"PostgreSQL, gunicorn with {cores} sync workers (one per core) serving the Flask "
        "extension with `SqlStorage` and `SqlRateLimiter` on it, **production Argon2id**, "
        "and locust, headless, all sharing the same "
        f"{cores} cores. Load average (1 / 5 / 15 min) {load_start} at the start, "
        f"{load_end} at the end.",
    ]
    if busy:
        lines += ["", "**The machine was shared and busy during this run** (the 1-minute "
                  "load above the cores): other work competed with the workers, so the "
                  "rates are low and the latencies high against a quiet machine."]
    lines += [
        "",
        "The per-address rate limits are raised in this app, since every request comes "
        "from 127.0.0.1; the per-member limits and the lockout are the defaults. Mail is "
        "delivered inline to a folder where the simulated member reads its link.",
        "",
        "| Figure | Value | Goal |",
        "|---|---:|---|",
        f"| Argon2id alone (median, timed before and after the load) | "
        f"{figures['hash_ms']:.1f} ms | |",
        f"| Slow-hash bound ({cores} cores / hash time) | {d['bound']:.1f} logins/s | |",
        f"| Right-password logins at saturation ({figures['login']['users']} users) | "
        f"{d['login_rate']:.1f}/s | |",
        f"| ... as a share of the bound | {d['login_share']:.2f} | ≥ {LOGIN_GOAL}: {met} |",
        f"| ... median / p99 latency | {d['login_median_ms']:.0f} / "
        f"{d['login_p99_ms']:.0f} ms | |",
        f"| Worker CPU per login (form page and POST) | {d['worker_cpu_ms']:.1f} ms | |",
        f"| ... beside the hash | {d['beside_ms']:.1f} ms | ≤ {BESIDE_GOAL_MS:.0f} ms: "
        f"{met_cpu} |",
        f"| ... on its own: the same logins with near-free Argon2id | "
        f"{d['on_its_own_ms']:.1f} ms | ≤ {BESIDE_GOAL_MS:.0f} ms |",
        f"| Locust's share of the CPU during the logins | {100 * d['locust_share']:.0f} % | |",
        f"| Whole journeys completed ({figures['journey']['users']} concurrent members) | "
        f"{d['journeys']} | |",
        f"| ... per second | {d['journey_rate']:.2f} | bound "
        f"{d['journey_bound']:.2f} ({JOURNEY_HASHES} Argon2id each) |",
        f"| ... errors (every request of the journeys) | {d['journey_errors']} | 0 |",
        "",
        "Before one connection per request (issue #16's trial, the same setup): 0.53 of the "
        "bound, and about 11 ms of worker CPU beside the hash per login, with 6 pool "
        "checkouts, each pre-pinged, per login POST.",
        "",
        "*Worker CPU* is the gunicorn workers' user and system time over the login run "
        "(from `/proc`), divided by the logins; *beside the hash* subtracts the Argon2id "
        "time measured alone. *On its own*: a second, shorter login run on workers whose "
        "Argon2id parameters are near free, minus those cheap hashes; it leaves out the "
        "slow hashes' effect on the caches and the scheduler. A login is the form's page and "
        "the POST, as a browser does.",
        "",
        "| Journey step (POST) | Median, ms | p99, ms |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {median:.0f} | {p99:.0f} |"
              for name, (median, p99) in d["journey_steps"].items()]
    if image:
        lines += ["", f"![Logins at saturation against the slow-hash bound, and journey "
                  f"steps' latency](img/{image})"]
    lines.append(END)
    return "\n".join(lines) + "\n"


def plot(figures: dict[str, Any], folder: Path) -> str:
    """The section's plot in ``folder``; returns its file name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = derived(figures)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.bar(["logins/s", "bound"], [d["login_rate"], d["bound"]],
             color=["tab:blue", "tab:gray"])
    left.axhline(LOGIN_GOAL * d["bound"], color="tab:red", linestyle="--",
                 label=f"goal: {LOGIN_GOAL} of the bound")
    left.set_title(f"Right-password logins: {d['login_share']:.2f} of the bound\n"
                   f"median {d['login_median_ms']:.0f} ms, p99 {d['login_p99_ms']:.0f} ms")
    left.legend()
    names = list(d["journey_steps"])
    right.barh(names, [d["journey_steps"][n][1] for n in names], color="tab:orange",
               label="p99")
    right.barh(names, [d["journey_steps"][n][0] for n in names], color="tab:blue",
               label="median")
    right.invert_yaxis()
    right.set_xlabel("ms")
    right.set_title(f"Journeys: {d['journey_rate']:.2f}/s, {d['journey_errors']} errors")
    right.legend()
    fig.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    fig.savefig(folder / IMAGE, dpi=80)
    plt.close(fig)
    return IMAGE


def kept(page: Path) -> str:
    """The section as the page holds it now ("" when it has none), for ``make perf``."""
    try:
        text = page.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    found = re.search(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", text, re.DOTALL)
    return found.group(0) if found else ""


def write(figures: dict[str, Any], page: Path, images: Path) -> None:
    """Put the section into ``page`` (replacing the last one) and its plot into ``images``."""
    new = section(figures, plot(figures, images))
    text = page.read_text(encoding="utf-8")
    old = kept(page)
    text = text.replace(old, new) if old else text.rstrip("\n") + "\n\n" + new
    page.write_text(text, encoding="utf-8")
