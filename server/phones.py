"""Phone numbers in E.164, Israel by default (the `phonenumbers` library does the work)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

DEFAULT_REGION = "IL"
_PREFIXES = ("whatsapp:", "tel:", "sip:")


class InvalidPhone(ValueError):
    pass


@dataclass(frozen=True)
class Phone:
    e164: str
    valid: bool  # False: possible (right length) but not an assigned range; accepted with a warning


# Pure, and the same few numbers come again and again (a business's own number on every webhook, its
# customers on each of their messages): parsing one with phonenumbers costs ~0.07 ms (on the bench
# machine). Failures are not cached (lru_cache does not keep exceptions).
@lru_cache(maxsize=16384)
def parse_phone(raw: str, region: str = DEFAULT_REGION) -> Phone:
    text = raw.strip()
    lowered = text.lower()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix):
            text = text[len(prefix) :].strip()
            break
    if text.startswith("00"):
        text = "+" + text[2:]
    digits = "".join(ch for ch in text if ch.isdigit())
    # "972502345678" is an international number written without its plus sign.
    if not text.startswith("+") and digits.startswith("972") and len(digits) >= 11:
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"'{raw}' is not a phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone(f"'{raw}' cannot be a phone number (wrong length for its country)")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164=e164, valid=phonenumbers.is_valid_number(number))


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """E.164 of a number that must be valid (business numbers, admin input)."""
    phone = parse_phone(raw, region)
    if not phone.valid:
        raise InvalidPhone(f"'{raw}' is not an assigned phone number")
    return phone.e164
