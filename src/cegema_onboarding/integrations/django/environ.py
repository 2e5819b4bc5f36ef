"""What a host's ``settings.py`` needs from the app, in a few lines: the quick start's.

``from_environ`` builds the ``CEGEMA_ONBOARDING`` dict from the configuration every entry
point of the package reads (the environment, or the TOML file ``CEGEMA_CONFIG`` names;
see docs/configuration.md), where keys belong (never in the settings file or the
repository):

- ``CEGEMA_SECRET_KEYS``: signs the mailed links (newest first, comma-separated; 50
  random characters or more each);
- ``CEGEMA_PEPPER_KEYS``: keys the hashes of initial passwords and codes, as
  ``id:key[,id:key...]``, newest first;
- ``CEGEMA_BASE_URL``: where links in mails point.

The same names are what ``cegema-onboarding provision`` and the relay read, so the Django
portal and the commands cannot disagree on a key. In development (``debug=True`` with a
``dev_dir``), a missing key is made once and kept in ``dev_dir/cegema-dev-keys.json``
(mode 0600), because the database holds hashes made with the pepper and mailed links are
signed with the keys, and the base URL defaults to runserver's. Outside development a
missing variable is an error that names it. This module imports nothing that needs
Django's settings: ``settings.py`` may import it.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from django.core.exceptions import ImproperlyConfigured

from ...environment import load_environment, pepper_keys_from, secret_keys_from

#: The authentication backend of members, for ``AUTHENTICATION_BACKENDS``.
BACKEND: Final = "cegema_onboarding.integrations.django.backends.OnboardingBackend"
#: Where development keys are kept, under ``dev_dir``.
DEV_KEYS_FILE: Final = "cegema-dev-keys.json"
#: The base URL in development: runserver's.
DEV_BASE_URL: Final = "http://127.0.0.1:8000"
#: The key id of a development pepper made by ``from_environ``.
DEV_PEPPER_ID: Final = "dev1"
_HOW = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


def from_environ(*, debug: bool = False, dev_dir: str | os.PathLike[str] | None = None,
                 environ: Mapping[str, str] | None = None, **options: Any) -> dict[str, Any]:
    """The ``CEGEMA_ONBOARDING`` setting from the shared configuration, plus ``options``.

    ``options`` are further keys of the setting (``RECOVERY_POLICY="link_and_answer"``,
    ``MAIL=...``), passed through unchanged.
    """
    values = load_environment(os.environ if environ is None else environ)
    dev = Path(dev_dir) if debug and dev_dir is not None else None
    base_url = values.get("CEGEMA_BASE_URL") or (DEV_BASE_URL if debug else "")
    if not base_url:
        raise ImproperlyConfigured(
            "set the CEGEMA_BASE_URL environment variable to the portal's public https URL")
    secret_keys = secret_keys_from(values)
    if secret_keys is None:
        secret_keys = (_dev_key("CEGEMA_SECRET_KEYS", dev),)
    pepper_keys = pepper_keys_from(values)
    if pepper_keys is None:
        pepper_keys = ((DEV_PEPPER_ID, _dev_key("CEGEMA_PEPPER_KEYS", dev)),)
    config: dict[str, Any] = {
        "SECRET_KEYS": list(secret_keys),
        "PEPPER_KEYS": [list(pair) for pair in pepper_keys],
        "BASE_URL": base_url,
    }
    config.update(options)
    return config


def _dev_key(name: str, dev: Path | None) -> str:
    if dev is None:
        raise ImproperlyConfigured(
            f"set the {name} environment variable (see docs/configuration.md; a key is 50 "
            f"random characters or more: {_HOW})")
    path = dev / DEV_KEYS_FILE
    keys = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if name not in keys:
        keys[name] = secrets.token_urlsafe(48)
        # Created private, never widened afterwards: these keys guard the dev database.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(keys, stream)
        path.chmod(0o600)
    return str(keys[name])
