"""The simulated members of ``make load`` (run by ``benchmarks.load.run``, never alone).

``LOAD_MODE=login``: each user logs one provisioned member in with the right password,
again and again, each time as a new browser (cookies cleared): the form's page, then
the POST. ``LOAD_MODE=journey``: each user takes members who have never logged in and
walks each through the guide's first connection (login with the initial password, email,
the mailed link, a new password, the secret question, logout, login with the new
password) until none is left; the run then stops.

Every POST must answer 303 to the step the guide names next; anything else is a failure.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from pathlib import Path
from typing import Any

from locust import HttpUser, constant, events, task
from locust.exception import StopUser

PASSWORD = "Le chat de ma voisine 1987"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_LINK = re.compile(r"https://portail\.example(/\S+?)\?token=([A-Za-z0-9_.\-]+)")
_MEMBERS = [tuple(line.split(",", 1)) for line in
            Path(os.environ["LOAD_MEMBERS"]).read_text(encoding="utf-8").splitlines()]
_NEXT = itertools.count()
_INBOX = Path(os.environ["LOAD_INBOX"])
_MODE = os.environ["LOAD_MODE"]
_finished: list[int] = []


def _next_member() -> tuple[str, str] | None:
    index = next(_NEXT)
    if index >= len(_MEMBERS):
        return None
    number, password = _MEMBERS[index]
    return number, password


class Member(HttpUser):
    """One browser at a time; no think time: the run measures saturation."""

    wait_time = constant(0)

    def on_start(self) -> None:
        """Login mode: the member this user logs in, always the same."""
        self.mine = _next_member() if _MODE == "login" else None

    def _form(self, page: str, name: str) -> str:
        response = self.client.get(page, name=name)
        match = _CSRF.search(response.text)
        if match is None:
            raise StopUser(f"no form on {page}")
        return match.group(1)

    def _post(self, path: str, data: dict[str, str], name: str, expect: str,
              page: str | None = None) -> bool:
        token = self._form(page or path, f"form: {name}")
        with self.client.post(path, data={**data, "csrf_token": token}, name=name,
                              allow_redirects=False, catch_response=True) as response:
            where = response.headers.get("Location", "")
            if response.status_code != 303 or not where.split("?")[0].endswith(expect):
                response.failure(f"{response.status_code} to {where!r}, not {expect}")
                return False
            response.success()
        return True

    @task
    def work(self) -> None:
        """One login (login mode), or one member's whole journey (journey mode)."""
        if _MODE == "login":
            assert self.mine is not None
            self.client.cookies.clear()
            self._post("/connexion", {"identifier": self.mine[0], "password": self.mine[1]},
                       "login", "/premiere-connexion")
            return
        member = _next_member()
        if member is None:
            self._stop()
        assert member is not None
        self.client.cookies.clear()
        self.journey(*member)

    def journey(self, number: str, initial: str) -> None:
        """The guide's first connection, step by step; stops at the first failure."""
        address = f"m{number}@example.com"
        steps: list[Any] = [
            ("/connexion", {"identifier": number, "password": initial},
             "1 login (initial password)", "/premiere-connexion"),
            ("/premiere-connexion", {"email": address, "confirmation": address},
             "2 email", "/premiere-connexion/boite-mail"),
        ]
        for path, data, name, expect in steps:
            if not self._post(path, data, name, expect):
                return
        link = self._link(address)
        if link is None:
            return
        if not self._post(link[0], {"token": link[1]}, "3 link", "/mot-de-passe",
                          page=f"{link[0]}?token={link[1]}"):
            return
        if not self._post("/mot-de-passe", {"password": PASSWORD, "confirmation": PASSWORD},
                          "4 new password", "/question-secrete"):
            return
        answer = {"question": "mother_maiden_name", "answer": "Lefebvre",
                  "confirmation": "Lefebvre"}
        if not self._post("/question-secrete", answer,
                          "5 secret question", "/profil"):
            return
        if not self._post("/deconnexion", {}, "6 logout", "/connexion", page="/profil"):
            return
        if self._post("/connexion", {"identifier": number, "password": PASSWORD},
                      "7 login (new password)", "/profil"):
            events.request.fire(request_type="JOURNEY", name="completed", response_time=0,
                                response_length=0, exception=None, context={})

    def _link(self, address: str) -> tuple[str, str] | None:
        # Delivered inline, before the POST's answer: the file is there already.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                match = _LINK.search((_INBOX / address).read_text(encoding="utf-8"))
            except FileNotFoundError:
                match = None
            if match is not None:
                return match.group(1), match.group(2)
            time.sleep(0.05)
        events.request.fire(request_type="JOURNEY", name="no mail", response_time=0,
                            response_length=0, exception=RuntimeError("no mail"), context={})
        return None

    def _stop(self) -> None:
        _finished.append(1)
        if len(_finished) >= self.environment.runner.user_count:
            self.environment.runner.quit()
        raise StopUser()
