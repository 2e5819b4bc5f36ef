"""Post/Redirect/Get for refused forms: the refusal goes to the page a redirect shows.

A refused form used to be answered in the POST's own response, so that Back, a few pages
later, asked the browser to post it again ("Confirm Form Resubmission", ERR_CACHE_MISS).
Now every POST answers 303: :func:`refuse` keeps the refusal (its reasons, never their
texts, so the page speaks the language it is shown in) and the typed values that are not
secrets in the extension's signed session cookie; the GET that follows takes them back
with :func:`kept_form`, once. Passwords, answers and codes are never kept: the member types
them again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from werkzeug.wrappers import Response as WerkzeugResponse

from ...flow import Reason, Refused
from ._context import FormErrors, form_errors, go, state

# Bounds on what goes into the cookie (4 KB in all): a value longer than any real address
# is cut, and a forged form with many fields keeps only the first few.
_MAX_VALUE: Final = 320
_MAX_VALUES: Final = 4
_MAX_VALUES_BYTES: Final = 1200
_REASONS: Final = {r.value: r for r in Reason}


def refuse(refused: Refused, endpoint: str, field_map: Mapping[str, str] | None = None,
           **values: str) -> WerkzeugResponse:
    """Keep ``refused`` and ``values`` for ``endpoint``'s next GET, and redirect there."""
    keep(refused, endpoint, field_map, **values)
    return go(endpoint)


def keep(refused: Refused, endpoint: str, field_map: Mapping[str, str] | None = None,
         **values: str) -> None:
    """Keep ``refused`` and ``values`` for the next GET of ``endpoint`` (any view's name)."""
    state().form = {
        "e": endpoint,
        "r": [r.value for r in (refused.reason, *refused.others)],
        "f": refused.field,
        "p": [[k, v] for k, v in refused.params if isinstance(v, int | str)],
        "m": dict(field_map or {}),
        "v": _bounded(values),
    }


def _bounded(values: Mapping[str, str]) -> dict[str, str]:
    # Measured as the cookie stores them (JSON, non-ASCII escaped six bytes a character):
    # a value that would push the cookie past the 4 KB browsers keep is left out, rather
    # than the browser dropping the whole cookie and with it the member's session.
    kept: dict[str, str] = {}
    size = 0
    for name, value in list(values.items())[:_MAX_VALUES]:
        cut = value[:_MAX_VALUE]
        cost = len(json.dumps(name)) + len(json.dumps(cut))
        if size + cost <= _MAX_VALUES_BYTES:
            kept[name] = cut
            size += cost
    return kept


def kept_form(endpoint: str) -> tuple[FormErrors | None, dict[str, str]]:
    """The errors and values a refused form left for ``endpoint``; nothing the second time."""
    current = state()
    kept, current.form = current.form, None
    if kept is None or kept.get("e") != endpoint:
        return None, {}
    refused = _refusal(kept)
    if refused is None:
        return None, {}
    mapping = kept.get("m")
    field_map = {str(k): str(v) for k, v in mapping.items()} if isinstance(mapping, dict) else None
    values = kept.get("v")
    typed = {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else {}
    return form_errors(refused, field_map), typed


def _refusal(kept: Mapping[str, Any]) -> Refused | None:
    # The cookie is signed, so this is our own data; still, a format from another release
    # must not break the page.
    names = kept.get("r")
    if not isinstance(names, list) or not names:
        return None
    reasons = [_REASONS[n] for n in names if isinstance(n, str) and n in _REASONS]
    if len(reasons) != len(names):
        return None
    field = kept.get("f")
    raw = kept.get("p")
    params = tuple((str(p[0]), p[1]) for p in raw if isinstance(p, list) and len(p) == 2
                   and isinstance(p[1], int | str)) if isinstance(raw, list) else ()
    return Refused(reasons[0], field=field if isinstance(field, str) else None,
                   others=tuple(reasons[1:]), params=params)
