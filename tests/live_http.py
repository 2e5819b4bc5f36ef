"""A real HTTP server and a small cookie-keeping client, to see what a server logs.

The test clients of Flask and Django never go through a server, so they cannot show an
access log. Here the framework's own development server (Werkzeug's, or the one behind
``runserver``) answers real requests over a socket, one at a time, in the test's own
thread: the client runs in a helper thread. Keeping the application in the test's thread
lets it share the test's database connection (Django's in-memory SQLite).
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.cookiejar import Cookie, CookieJar
from typing import Any, Protocol
from urllib.parse import urlencode

import attrs

REQUEST_TIMEOUT = 20.0


class OneRequestServer(Protocol):
    """What both frameworks' development servers offer."""

    timeout: float | None
    server_address: Any

    def handle_request(self) -> None: ...

    def server_close(self) -> None: ...


@attrs.frozen
class Reply:
    """One HTTP response, redirects included (the client never follows them itself)."""

    status: int
    headers: Mapping[str, str]
    body: str
    set_cookies: tuple[str, ...]

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # every response, a 303 too, comes back as it is


class Browser:
    """Keeps cookies like a browser; each call is one request to the live server."""

    def __init__(self, server: OneRequestServer) -> None:
        host, port = server.server_address[:2]
        self.base = f"http://{host}:{port}"
        self.server = server
        self.jar = CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                   _NoRedirects())

    def get(self, path: str) -> Reply:
        # Always http://127.0.0.1:<port>/...: the server this class was made for.
        return self._send(urllib.request.Request(self.base + path))  # noqa: S310

    def post(self, path: str, data: Mapping[str, str]) -> Reply:
        return self._send(urllib.request.Request(self.base + path, method="POST",  # noqa: S310
                                                 data=urlencode(data).encode()))

    def cookie(self, name: str) -> Cookie | None:
        return next((c for c in self.jar if c.name == name), None)

    def _send(self, request: urllib.request.Request) -> Reply:
        request.add_header("Connection", "close")
        outcome: dict[str, Any] = {}

        def call() -> None:
            try:
                response = self._opener.open(request, timeout=REQUEST_TIMEOUT)
            except urllib.error.HTTPError as error:  # 3xx and 4xx arrive as errors
                response = error
            except BaseException as exc:  # handed to the test's thread
                outcome["error"] = exc
                return
            with response:
                outcome["reply"] = Reply(
                    status=response.status,
                    headers=dict(response.headers.items()),
                    body=response.read().decode(),
                    set_cookies=tuple(response.headers.get_all("Set-Cookie") or ()))

        client = threading.Thread(target=call, daemon=True)
        client.start()
        self.server.handle_request()  # in this thread: the application runs here
        client.join(REQUEST_TIMEOUT)
        if "error" in outcome:
            raise outcome["error"]
        reply = outcome.get("reply")
        assert isinstance(reply, Reply), f"no answer to {request.full_url}"
        return reply


def serving(server: OneRequestServer) -> Browser:
    """A browser for ``server``, which waits at most REQUEST_TIMEOUT for each request."""
    server.timeout = REQUEST_TIMEOUT
    return Browser(server)


@attrs.define
class Seen:
    """What the application saw of each request: path, query string, Referer."""

    requests: list[tuple[str, str, str]] = attrs.field(factory=list)

    def wrap(self, app: Callable[..., Any]) -> Callable[..., Any]:
        def recording(environ: dict[str, Any], start_response: Any) -> Any:
            self.requests.append((environ.get("PATH_INFO", ""),
                                  environ.get("QUERY_STRING", ""),
                                  environ.get("HTTP_REFERER", "")))
            return app(environ, start_response)

        return recording


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def log_lines(logger_name: str) -> Iterator[list[str]]:
    """The messages logged on one logger while the block runs, as its handlers get them."""
    logger = logging.getLogger(logger_name)
    handler = _Lines()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def walk(browser: Browser, path: str, *, limit: int = 5) -> list[Reply]:
    """GET ``path`` and follow redirects as a browser would; every reply, the last one last."""
    replies = [browser.get(path)]
    while 300 <= replies[-1].status < 400:
        assert len(replies) <= limit, "too many redirects"
        location = replies[-1].location
        if location.startswith(browser.base):
            location = location[len(browser.base):]
        replies.append(browser.get(location))
    return replies
