"""Phone numbers as people write them, normalised to E.164 (Israel by default)."""

from __future__ import annotations

import pytest

from server.phones import InvalidPhone, parse_phone

SAME_MOBILE = [
    "050-234-5678",
    "0502345678",
    "+972 50-234-5678",
    "972502345678",
    "whatsapp:+972502345678",
    "+972-50-2345678",
    "(050) 234 5678",
    "050 234 5678",
    "00972502345678",
    "+972 (0)50 234 5678",
    "050.234.5678",
    " 050-2345678 ",
    "tel:+972502345678",
    "WhatsApp:+972502345678",
    "+972502345678",
]


@pytest.mark.parametrize("raw", SAME_MOBILE)
def test_one_mobile_written_fifteen_ways(raw: str) -> None:
    phone = parse_phone(raw)
    assert phone.e164 == "+972502345678"
    assert phone.valid


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("03-555-0101", "+97235550101"),  # Tel Aviv landline
        ("02-6251111", "+97226251111"),  # Jerusalem landline
        ("077-5551234", "+97277 5551234".replace(" ", "")),  # VoIP
        ("+1 (212) 555-0123", "+12125550123"),  # a foreign caller keeps its country
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_other_real_world_numbers(raw: str, e164: str) -> None:
    assert parse_phone(raw).e164 == e164


def test_possible_but_not_valid_is_kept_with_valid_false() -> None:
    phone = parse_phone("059-000-0000")  # right length, unassigned range
    assert phone.e164 == "+972590000000"
    assert phone.valid is False


@pytest.mark.parametrize("raw", ["12", "hello", "", "050-234-56789012", "+972"])
def test_impossible_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        parse_phone(raw)
