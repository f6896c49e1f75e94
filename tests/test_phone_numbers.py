"""Phone numbers reach storage in one form, E.164, whichever way they were written."""

from __future__ import annotations

import phonenumbers
from hypothesis import given
from hypothesis import strategies as st

from bot.phone_numbers import to_e164


def by_phonenumbers(raw: str, region: str) -> str | None:
    """The answer of the library alone (what the quick path for E.164 must agree with)."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if (
        phonenumbers.is_possible_number_with_reason(number)
        != phonenumbers.ValidationResult.IS_POSSIBLE
    ):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_written_forms_become_e164_and_other_text_is_not_a_number() -> None:
    assert to_e164("+14145550142", "US") == "+14145550142"
    assert to_e164(" +14145550142 ", "MX") == "+14145550142"
    assert to_e164("(414) 555-0142", "US") == "+14145550142"
    assert to_e164("1-414-555-0142", "US") == "+14145550142"
    assert to_e164("+52 55 1234 5678", "US") == "+525512345678"
    assert to_e164("5551234", "US") is None  # seven digits name no one without an area code
    assert to_e164("+1414", "US") is None
    assert to_e164("whatsapp:someone", "US") is None
    # Digits of another script are read as digits, and stored as ASCII.
    assert to_e164("+1\u0664\u0661\u0664\u0665\u0665\u0665\u0660\u0661\u0664\u0662", "US") == (
        "+14145550142"
    )


@given(st.from_regex(r"\A\+1[0-9]{8,12}\Z"), st.sampled_from(["US", "MX", "CA"]))
def test_a_number_already_in_e164_gets_the_libraries_answer(raw: str, region: str) -> None:
    assert to_e164(raw, region) == by_phonenumbers(raw, region)
