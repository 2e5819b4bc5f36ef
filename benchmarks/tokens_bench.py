"""Link issue and verification, side by side with Django, django-allauth and itsdangerous.

In one run, the implementations taking turns in each of the ``timeit`` rounds (median of
the rounds, per call):

- plain itsdangerous: ``URLSafeTimedSerializer.dumps`` / ``loads(max_age=...)`` of the same
  claims our links carry (an account id and a base64 nonce); the reference of the ratios;
- ours, the signer alone: ``LinkSigner.issue`` plus ``nonce_hash`` (what storage keeps) to
  issue; ``LinkSigner.parse`` (which checks the signature and hashes the nonce) to verify;
- ours, the whole transition without storage: ``flow.step`` with ``SubmitEmail`` (address
  validation, a fresh link, a code digest, effects) to issue; to verify, what the service
  does before storage: ``LinkSigner.parse``, then ``flow.step`` with ``ConfirmLink`` (the
  hash compared with the pending link's, expiry, the stage moved on);
- Django's ``PasswordResetTokenGenerator.make_token`` / ``check_token`` on an unsaved
  ``User`` (a minimal ``settings.configure()``);
- django-allauth's HMAC email confirmation: ``EmailConfirmationHMAC(address).key`` to issue;
  to verify, the signature check of ``EmailConfirmationHMAC.from_key`` (``signing.loads``
  with allauth's salt and max_age), WITHOUT its database lookup of the address, so that
  no row is fetched on either side. When allauth cannot be set up in this process, the same
  ``django.core.signing`` calls stand in for the issue too, and the label says so.

    python -m benchmarks.tokens_bench           # full run
    python -m benchmarks.tokens_bench --quick   # fewer repeats

This is not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import timeit
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import attrs
from itsdangerous import URLSafeTimedSerializer

from benchmarks.flow_bench import (
    ADDRESS,
    ENTROPY,
    ORIGIN,
    START,
    _settings,
    transition_cases,
)
from cegema_onboarding import flow
from cegema_onboarding.flow import Env
from cegema_onboarding.hashing import FAST_TEST_PARAMS
from cegema_onboarding.model import LinkPurpose
from cegema_onboarding.tokens import LinkSigner, nonce_hash

ACCOUNT_ID = "0f3c2a9e7b5d4c1a8e6f2b0d9c7a5e31"
MAX_AGE = 24 * 3600
REFERENCE = "itsdangerous (URLSafeTimedSerializer)"


@attrs.frozen
class Pair:
    """Median microseconds per call to issue and to verify one link."""

    issue_us: float
    verify_us: float


@attrs.frozen
class TokenResults:
    """Per implementation, in display order; the reference is :data:`REFERENCE`."""

    pairs: dict[str, Pair]
    allauth_note: str


def _interleaved(cases: dict[str, tuple[Callable[[], object], Callable[[], object]]],
                 repeat: int, number: int) -> dict[str, Pair]:
    """Median µs per call, the implementations taking turns in every round.

    Round-robin rather than one implementation after the other, so that a change in the
    shared machine's load hits all of them alike and the ratios stay fair.
    """
    samples: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in cases}
    for issue, verify in cases.values():
        issue()  # warm-up: serializers, key derivations, lazy imports
        verify()
    for _ in range(repeat):
        for name, (issue, verify) in cases.items():
            samples[name][0].append(timeit.timeit(issue, number=number) / number * 1e6)
            samples[name][1].append(timeit.timeit(verify, number=number) / number * 1e6)
    return {name: Pair(statistics.median(i), statistics.median(v))
            for name, (i, v) in samples.items()}


def _check(value: object) -> None:
    if not value:
        raise RuntimeError("a token did not verify: the benchmark is broken")


def _itsdangerous() -> tuple[Callable[[], object], Callable[[], object]]:
    serializer = URLSafeTimedSerializer(secrets.token_urlsafe(48), salt="verify_email")
    claims = {"a": ACCOUNT_ID, "n": secrets.token_urlsafe(32)}
    token = serializer.dumps(claims)
    _check(serializer.loads(token, max_age=MAX_AGE) == claims)
    return (lambda: serializer.dumps(claims),
            lambda: serializer.loads(token, max_age=MAX_AGE))


def _ours() -> tuple[Callable[[], object], Callable[[], object]]:
    signer = LinkSigner([secrets.token_urlsafe(48)])
    purpose = LinkPurpose.VERIFY_EMAIL.value
    nonce = ENTROPY.nonce
    token = signer.issue(ACCOUNT_ID, purpose, nonce)
    _check(signer.parse(token, purpose).nonce_hash == nonce_hash(nonce))
    return (lambda: (signer.issue(ACCOUNT_ID, purpose, nonce), nonce_hash(nonce)),
            lambda: signer.parse(token, purpose))


def _flow() -> tuple[Callable[[], object], Callable[[], object]]:
    env = Env.from_settings(_settings(FAST_TEST_PARAMS))
    cases = transition_cases(env)
    submit = cases["SubmitEmail (new link)"]
    outcome = submit()
    if not isinstance(outcome, flow.Accepted):
        raise RuntimeError(f"SubmitEmail was refused: {outcome!r}")
    pending = outcome.account
    signer, purpose = env.crypto.signer, LinkPurpose.VERIFY_EMAIL.value
    # The token the transition put in its mail: the flow signs ENTROPY's nonce.
    token = signer.issue(pending.account_id, purpose, ENTROPY.nonce)
    later = START + timedelta(minutes=5)

    def confirm() -> object:
        # What the service does before storage: parse the token, then the transition.
        claims = signer.parse(token, purpose)
        return flow.step(pending, flow.ConfirmLink(claims.nonce_hash), later, env,
                         entropy=ENTROPY, origin=ORIGIN)

    _check(isinstance(confirm(), flow.Accepted))
    return submit, confirm


def _django_setup() -> str:
    """Configure Django once with auth and allauth; the label of the allauth variant."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY=secrets.token_urlsafe(48),
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                            "allauth", "allauth.account"],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                                   "NAME": ":memory:"}},
            # allauth.account refuses to start without its middleware; no request runs here.
            MIDDLEWARE=["allauth.account.middleware.AccountMiddleware"],
            USE_TZ=True,
        )
        django.setup()
    try:
        from allauth.account.models import EmailConfirmationHMAC  # noqa: F401
    except Exception as exc:  # any set-up failure means the stand-in
        return f"django.core.signing with allauth's salt and max_age ({type(exc).__name__})"
    return "allauth"


def _django() -> tuple[Callable[[], object], Callable[[], object]]:
    from django.contrib.auth.models import User
    from django.contrib.auth.tokens import PasswordResetTokenGenerator
    from django.utils import timezone

    generator = PasswordResetTokenGenerator()
    # Unsaved: make_token reads pk, password, last_login and email, and touches no table.
    user = User(pk=42, username="marie", email=ADDRESS,
                password="argon2$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
                last_login=timezone.now() - timedelta(days=3))
    token = generator.make_token(user)
    _check(generator.check_token(user, token))
    return (lambda: generator.make_token(user),
            lambda: generator.check_token(user, token))


def _allauth(variant: str) -> tuple[Callable[[], object], Callable[[], object]]:
    from django.core import signing

    salt, max_age = "account", 60 * 60 * 24 * 3  # allauth's defaults
    if variant == "allauth":
        from allauth.account import app_settings
        from allauth.account.models import EmailAddress, EmailConfirmationHMAC

        salt = app_settings.SALT
        max_age = 60 * 60 * 24 * app_settings.EMAIL_CONFIRMATION_EXPIRE_DAYS
        confirmation = EmailConfirmationHMAC(EmailAddress(pk=42, email=ADDRESS, user_id=42))

        def issue() -> Any:
            return confirmation.key
    else:
        def issue() -> Any:
            return signing.dumps(obj=42, salt=salt)

    key = issue()
    _check(signing.loads(key, max_age=max_age, salt=salt) == 42)
    return issue, lambda: signing.loads(key, max_age=max_age, salt=salt)


def run(quick: bool = False) -> TokenResults:
    """Time every implementation in this process, one after the other."""
    repeat, number = (3, 300) if quick else (15, 2000)
    variant = _django_setup()
    allauth_label = ("django-allauth (EmailConfirmationHMAC)" if variant == "allauth"
                     else "django-allauth's signing (stand-in)")
    cases = {
        REFERENCE: _itsdangerous(),
        "ours: LinkSigner + nonce_hash": _ours(),
        "ours: flow.step SubmitEmail / ConfirmLink": _flow(),
        "Django PasswordResetTokenGenerator": _django(),
        allauth_label: _allauth(variant),
    }
    pairs = _interleaved(cases, repeat, number)
    note = ("issue: `EmailConfirmationHMAC(address).key`, allauth's own code on an unsaved "
            "`EmailAddress`; verify: the signature check of `EmailConfirmationHMAC.from_key` "
            "(`django.core.signing.loads` with allauth's salt and max_age), without its "
            "database lookup of the address" if variant == "allauth" else
            f"allauth could not be set up here, so both sides are {variant}")
    return TokenResults(pairs, note)


def table(results: TokenResults) -> list[str]:
    """The figures as Markdown table lines, with ratios to plain itsdangerous."""
    ref = results.pairs[REFERENCE]
    lines = ["| Implementation | Issue, µs | Verify, µs | Issue ratio | Verify ratio |",
             "|---|---:|---:|---:|---:|"]
    for name, pair in results.pairs.items():
        lines.append(f"| {name} | {pair.issue_us:.1f} | {pair.verify_us:.1f} "
                     f"| {pair.issue_us / ref.issue_us:.2f} "
                     f"| {pair.verify_us / ref.verify_us:.2f} |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison and print it."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tokens_bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)
    results = run(args.quick)
    print("\n".join(table(results)))
    print(f"\nallauth: {results.allauth_note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
