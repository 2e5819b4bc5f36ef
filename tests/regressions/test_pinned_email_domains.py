"""Shrunk by hypothesis (tests/integrations/django/test_mail_idna.py): an address whose domain NFKC
and IDNA's UTS #46 mapping read as two different domains."""

from __future__ import annotations

import pytest

from cegema_onboarding.errors import InvalidInput
from cegema_onboarding.normalize import ascii_email, normalize_email


def test_a_mathematical_final_sigma_is_refused_not_mailed_to_another_domain() -> None:
    # NFKC reads U+1D6D3 as a final sigma (xn--zca29l), UTS #46 as a medial one
    # (xn--zca49l): storing one and mailing per the other would reach another owner.
    with pytest.raises(InvalidInput):
        normalize_email("marie@ß\U0001d6d3.de")


@pytest.mark.parametrize("typed", ["marie@ßς.de", "marie@ßσ.de", "Marie@ΣΑΣ.gr",
                                   "ｍａｒｉｅ＠ｅｘａｍｐｌｅ.fr", "marie@straße.de"])
def test_addresses_both_readings_agree_on_are_kept(typed: str) -> None:
    stored = normalize_email(typed)
    assert ascii_email(stored).lower() == ascii_email(stored.replace("＠", "@")).lower()
