"""The look of every mail: one paragraph at a time, into a text body and an HTML card.

Every value is HTML-escaped separately from its template, so names and addresses from
outside can never inject markup; the HTML uses inline styles only, as mail clients need.
"""

from __future__ import annotations

import html
import ipaddress
import re
from collections.abc import Iterable, Mapping

from ..texts import CATALOG, text
from ..texts.wording import elide
from .settings import MailSettings

__all__ = ["Composer", "contact", "greeting", "not_me", "requester_ips"]

_FONT = "font-family:Arial,Helvetica,sans-serif;"
_P = "margin:0 0 16px 0;"
_STYLE_STRONG = "font-weight:bold;"
_STYLE_CODE = (
    "font-family:'Courier New',Courier,monospace;font-size:20px;font-weight:bold;"
    "letter-spacing:2px;background:#eef3f8;padding:2px 8px;border-radius:4px;"
)
_STYLE_LINK = "color:#00508c;text-decoration:underline;word-break:break-all;"


class Composer:
    """Writes one paragraph at a time into both the text and the HTML part."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.plain: list[str] = []
        self.html: list[str] = []
        self.footer_plain: list[str] = []
        self.footer_html: list[str] = []

    def para(
        self,
        key: str,
        params: Mapping[str, str] | None = None,
        *,
        strong: Iterable[str] = (),
        as_code: Iterable[str] = (),
        small: bool = False,
    ) -> None:
        """Add the text of ``key``; the params named in strong/as_code are highlighted."""
        values = dict(params or {})
        self.plain.append(text(key, self.lang, **values))
        inner = self._html_text(key, values, strong, as_code)
        self.html.append(f'<p style="{_P}{_small(small)}">{inner}</p>')

    def link(self, url: str, label: str | None = None) -> None:
        """Add a link: the bare URL in text (label above it), an anchor in HTML."""
        self.plain.append(url if label is None else f"{label}\n{url}")
        shown = html.escape(url if label is None else label)
        self.html.append(
            f'<p style="{_P}"><a href="{html.escape(url)}" style="{_STYLE_LINK}">{shown}</a></p>'
        )

    def footer(self, settings: MailSettings) -> None:
        """The automatic-message notice and, when configured, the legal link."""
        lang = self.lang
        self.footer_plain.append(text("mail.footer.auto", lang))
        auto = html.escape(text("mail.footer.auto", lang))
        self.footer_html.append(f'<p style="{_P}">{auto}</p>')
        if settings.legal_url:
            url = settings.legal_url
            intro = text("mail.footer.legal_intro", lang)
            label = text("mail.footer.legal_label", lang)
            # The guide's two lines, in text too: "Cliquer sur ce lien : Mentions Légales",
            # then the URL to copy (a text part has no link to click but that one).
            self.footer_plain.append(f"{intro} {label}")
            self.footer_plain.append(text("mail.footer.legal_copy", lang, url=url))
            intro, label = html.escape(intro), html.escape(label)
            copy = self._html_text("mail.footer.legal_copy", {"url": url}, (), ())
            self.footer_html.append(
                f'<p style="{_P}">{intro} <a href="{html.escape(url)}" '
                f'style="{_STYLE_LINK}">{label}</a><br>{copy}</p>'
            )

    def _html_text(
        self,
        key: str,
        params: Mapping[str, str],
        strong: Iterable[str],
        as_code: Iterable[str],
    ) -> str:
        # Escape the template and every value separately, then fill in: a value can never
        # inject markup, and the template's own characters are escaped too.
        # Elided as texts.text() does it ("qu'une heure"), before anything is escaped.
        template = html.escape(elide(CATALOG[key][self.lang], self.lang, params), quote=False)
        strong_set, code_set = frozenset(strong), frozenset(as_code)
        values: dict[str, str] = {}
        for name, value in params.items():
            escaped = html.escape(value)
            if name in code_set:
                escaped = f'<span style="{_STYLE_CODE}">{escaped}</span>'
            elif name in strong_set:
                escaped = f'<strong style="{_STYLE_STRONG}">{escaped}</strong>'
            values[name] = escaped
        return template.format(**values)

    def plain_text(self) -> str:
        """The text/plain body."""
        body = "\n\n".join(self.plain)
        footer = "\n".join(self.footer_plain)
        return f"{body}\n\n{'-' * 40}\n{footer}\n"

    def html_document(self, settings: MailSettings, subject: str) -> str:
        """The text/html body: one centred card, inline styles only, as mail clients need."""
        brand = html.escape(settings.brand)
        body = "\n".join(self.html)
        footer = "\n".join(self.footer_html)
        return (
            "<!DOCTYPE html>\n"
            f'<html lang="{self.lang}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(subject)}</title>\n</head>\n"
            f'<body style="margin:0;padding:0;background:#f2f4f7;{_FONT}">\n'
            '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
            'style="background:#f2f4f7;">\n<tr><td align="center" style="padding:24px 12px;">\n'
            '<table role="presentation" width="600" cellpadding="0" cellspacing="0" '
            'style="max-width:600px;width:100%;background:#ffffff;border-radius:6px;'
            f'{_FONT}color:#1f2933;font-size:15px;line-height:1.5;">\n'
            '<tr><td style="background:#00508c;color:#ffffff;padding:16px 24px;'
            f'font-size:20px;font-weight:bold;letter-spacing:1px;">{brand}</td></tr>\n'
            f'<tr><td style="padding:24px 24px 8px 24px;">\n{body}\n</td></tr>\n'
            '<tr><td style="padding:16px 24px 8px 24px;border-top:1px solid #e4e7eb;'
            f'font-size:12px;color:#616e7c;">\n{footer}\n</td></tr>\n'
            "</table>\n</td></tr>\n</table>\n</body>\n</html>\n"
        )


def _small(small: bool) -> str:
    return "font-size:13px;color:#52606d;" if small else ""


def not_me(composer: Composer, url: str | None) -> None:
    """The "it was not me" paragraph and link, when there is a link."""
    # The signed "Ce n'était pas moi" action, in every mail that reports a change.
    if url is not None:
        composer.para("mail.not_me.intro")
        composer.link(url, text("mail.not_me.label", composer.lang))


def greeting(composer: Composer, name: str) -> None:
    """The greeting, by name when there is one."""
    if name:
        composer.para("mail.greeting", {"name": name}, strong=("name",))
    else:
        composer.para("mail.greeting_no_name")


def contact(composer: Composer, settings: MailSettings) -> None:
    """Whom to contact if the member did not do this, with the link when configured."""
    if settings.contact_url:
        composer.para("mail.contact_if_not_you", {"brand": settings.brand})
        composer.link(settings.contact_url)
    else:
        composer.para("mail.contact_if_not_you_no_link", {"brand": settings.brand})


def requester_ips(ip: object, lang: str) -> str:
    """The requester's IP addresses as a notice shows them (at most four), or "unknown".

    The IP usually comes from X-Forwarded-For, which anyone can set: only real addresses
    get into a security notice, never free text a phisher could plant there.
    """
    found: list[str] = []
    if isinstance(ip, str):
        for token in re.split(r"[\s,/]+", ip[:512]):
            candidate = token.strip("[]")
            try:
                parsed = ipaddress.ip_address(candidate)
            except ValueError:
                continue
            if isinstance(parsed, ipaddress.IPv6Address):
                # An IPv6 zone ("fe80::1%anything") is free text too: drop it.
                parsed = ipaddress.IPv6Address(int(parsed))
            found.append(str(parsed))
            if len(found) == 4:
                break
    if not found:
        return text("mail.password_changed.unknown_ip", lang)
    return " / ".join(found)
