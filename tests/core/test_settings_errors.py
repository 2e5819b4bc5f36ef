"""Settings refuse the common key mistakes when the host builds them, naming the fix.

Before, each of these passed construction and failed later and obscurely: a bare string
of secret keys was read as one-character keys, a bare pepper string gave "not enough
values to unpack" at the first request, a short pepper failed only when the service was
built, and a pepper equal to a signing key was accepted.
"""

from __future__ import annotations

import pytest

from cegema_onboarding.bootstrap import settings_from_keys
from cegema_onboarding.config import Settings
from cegema_onboarding.errors import ConfigurationError

from ..conftest import PEPPER, SECRET

URL = "https://portail.example"


def _settings(secret_keys: object = (SECRET,), pepper_keys: object = (("p1", PEPPER),)
              ) -> Settings:
    return Settings(secret_keys=secret_keys, pepper_keys=pepper_keys,  # type: ignore[arg-type]
                    base_url=URL)


def test_good_keys_are_taken() -> None:
    settings = _settings(pepper_keys=[["p2", PEPPER + "x"], ("p1", PEPPER)])
    assert settings.secret_keys == (SECRET,)
    # Pairs read from JSON or a settings file come as lists: kept as tuples.
    assert settings.pepper_keys == (("p2", PEPPER + "x"), ("p1", PEPPER))


def test_settings_from_keys_refuses_a_bare_pepper_string_the_same_way() -> None:
    with pytest.raises(ConfigurationError, match=r'pepper_keys=\(\("p1", key\),\)'):
        settings_from_keys([SECRET], PEPPER, URL)  # type: ignore[arg-type]
    assert settings_from_keys([SECRET], [["p1", PEPPER]], URL).pepper_keys == (("p1", PEPPER),)


def test_secret_keys_given_as_one_string_are_refused_with_the_fix() -> None:
    with pytest.raises(ConfigurationError, match=r"not one string: write secret_keys=\(key,\)"):
        _settings(secret_keys=SECRET)


@pytest.mark.parametrize("pepper_keys", [
    PEPPER,                       # a bare string
    ("p1", PEPPER),               # one pair, not a list of pairs
    ((PEPPER,),),                 # no key id
    (("p1", PEPPER, "extra"),),
    (("p1", 12345),),
    b"bytes",
])
def test_pepper_keys_of_the_wrong_shape_are_refused_with_the_fix(pepper_keys: object) -> None:
    with pytest.raises(ConfigurationError, match=r'pepper_keys=\(\("p1", key\),\)') as caught:
        _settings(pepper_keys=pepper_keys)
    assert PEPPER not in str(caught.value)


def test_a_short_pepper_is_refused_when_the_settings_are_built() -> None:
    with pytest.raises(ConfigurationError) as caught:
        _settings(pepper_keys=(("p1", "short"),))
    assert "short" not in str(caught.value).replace("shorter", "")


def test_no_pepper_and_duplicate_ids_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        _settings(pepper_keys=())
    with pytest.raises(ConfigurationError, match="duplicate"):
        _settings(pepper_keys=(("p1", PEPPER), ("p1", PEPPER + "x")))


def test_a_pepper_that_is_also_a_signing_key_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="also in secret_keys") as caught:
        _settings(secret_keys=(SECRET, PEPPER))
    assert PEPPER not in str(caught.value)


# ---------------------------------------------------------------------- plain http


@pytest.mark.parametrize("url", ["http://portail.example", "http://192.0.2.10:8000/",
                                 "http://portail.example.localhost.evil.example"])
def test_a_plain_http_base_url_of_another_machine_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_http=True") as caught:
        Settings(secret_keys=(SECRET,), pepper_keys=(("p1", PEPPER),), base_url=url)
    assert caught.value.setting == "base_url"
    assert "https://" in str(caught.value)


@pytest.mark.parametrize("url", ["http://localhost:8000", "http://127.0.0.1:8000",
                                 "http://[::1]:8000/portail", "http://127.0.0.2",
                                 "http://portail.localhost", "HTTP://LOCALHOST"])
def test_plain_http_on_this_machine_is_the_demo_and_needs_no_flag(url: str) -> None:
    assert Settings(secret_keys=(SECRET,), pepper_keys=(("p1", PEPPER),),
                    base_url=url).base_url == url


def test_plain_http_elsewhere_needs_the_explicit_opt_in() -> None:
    settings = Settings(secret_keys=(SECRET,), pepper_keys=(("p1", PEPPER),),
                        base_url="http://portail.test", allow_insecure_http=True)
    assert settings.allow_insecure_http
    # https needs no flag, and the flag is off by default.
    assert not _settings().allow_insecure_http
