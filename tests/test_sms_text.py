"""SMS text arithmetic: segment counts checked against GSM 03.38 rules worked out by hand."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sms_text import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    cheapest,
    fold_accents,
    folding_cost,
    is_gsm7,
    plain_punctuation,
    segment_info,
    sms_length,
    split_message,
    text_variants,
    tidy_whitespace,
)

# Every expected value below is worked out from the rules, not from the code:
#   GSM-7: basic-table character = 1 septet, extension-table character (\f ^ { } \ [ ~ ] | €)
#          = 2 septets; up to 160 septets is one message, more is sent in segments of 153.
#   UCS-2: used when any character is outside both tables; 1 unit per BMP character,
#          2 units for a character above U+FFFF (emoji); up to 70 units is one message, more
#          is sent in segments of 67.
#   An escape pair or a surrogate pair is never split between two segments.
SEGMENT_TABLE = [
    # (id, text, encoding, units, segments)
    ("empty", "", "GSM-7", 0, 0),  # nothing to send
    ("hello", "Hello", "GSM-7", 5, 1),  # 5 basic characters
    ("gsm-160", "a" * 160, "GSM-7", 160, 1),  # exactly fills one message
    ("gsm-161", "a" * 161, "GSM-7", 161, 2),  # 161 > 160: 153 + 8
    ("gsm-306", "a" * 306, "GSM-7", 306, 2),  # 2 x 153 exactly
    ("gsm-307", "a" * 307, "GSM-7", 307, 3),  # 153 + 153 + 1
    ("gsm-459", "a" * 459, "GSM-7", 459, 3),  # 3 x 153 exactly
    ("gsm-460", "a" * 460, "GSM-7", 460, 4),  # 3 x 153 + 1
    ("newlines", "a\nb\r\nc", "GSM-7", 6, 1),  # LF and CR are basic characters
    ("euro-80", "€" * 80, "GSM-7", 160, 1),  # 80 extension chars x 2 septets = 160
    ("euro-81", "€" * 81, "GSM-7", 162, 2),  # 162 septets > 160
    ("braces", "{x}", "GSM-7", 5, 1),  # { and } are 2 septets each, x is 1
    ("all-extension", "\f^{}\\[~]|€", "GSM-7", 20, 1),  # the 10 extension chars x 2
    # 159 a + € = 161 septets: segment 1 takes 153 a, segment 2 takes 6 a + € (8 septets).
    ("euro-tips-over", "a" * 159 + "€", "GSM-7", 161, 2),
    # 152 a + € + 152 a = 306 septets, which would fit 2 x 153 if the escape pair could be cut;
    # it cannot: segment 1 = 152 a (the € would make 154), segment 2 = € + 151 a = 153,
    # segment 3 = the last a.
    ("escape-not-split", "a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),
    # Spanish that GSM-7 has: ¿ é ñ ¡ are basic characters. 25 characters.
    ("spanish-gsm", "¿Qué pasa, señor? ¡Ayuda!", "GSM-7", 25, 1),
    ("umlaut-gsm", "pingüino", "GSM-7", 8, 1),  # ü is basic
    ("greek-gsm", "ΔΩ", "GSM-7", 2, 1),  # Greek capitals at 0x10 and 0x15
    ("c-cedilla-upper", "Ç", "GSM-7", 1, 1),  # 0x09 maps to U+00C7
    ("c-cedilla-lower", "ç", "UCS-2", 1, 1),  # not in the table: UCS-2
    ("backtick", "`", "UCS-2", 1, 1),  # ` is in neither table
    # One accent switches the whole message: 69 a + á = 70 units, one UCS-2 message.
    ("one-accent-70", "a" * 69 + "á", "UCS-2", 70, 1),
    ("one-accent-71", "a" * 70 + "á", "UCS-2", 71, 2),  # 71 > 70: 67 + 4
    # 159 a + á: 160 characters would be one GSM-7 message; as UCS-2 it is 160 units = 67+67+26.
    ("accent-160", "a" * 159 + "á", "UCS-2", 160, 3),
    ("ucs2-70", "á" * 70, "UCS-2", 70, 1),
    ("ucs2-71", "á" * 71, "UCS-2", 71, 2),
    ("ucs2-134", "á" * 134, "UCS-2", 134, 2),  # 2 x 67 exactly
    ("ucs2-135", "á" * 135, "UCS-2", 135, 3),
    ("emoji-one", "😀", "UCS-2", 2, 1),  # U+1F600 is above U+FFFF: a surrogate pair
    ("emoji-35", "😀" * 35, "UCS-2", 70, 1),  # 35 x 2 = 70 units
    ("emoji-36", "😀" * 36, "UCS-2", 72, 2),  # 72 > 70: 33 emoji (66) + 3 emoji (6)
    ("emoji-with-gsm-text", "Hi 👋", "UCS-2", 5, 1),  # H i space = 3, wave = 2
    # 66 a + emoji + 66 a = 134 units, 2 x 67 if the pair could be cut; it cannot:
    # segment 1 = 66 a, segment 2 = emoji + 65 a = 67, segment 3 = the last a.
    ("surrogate-not-split", "a" * 66 + "😀" + "a" * 66, "UCS-2", 134, 3),
    ("bmp-symbol", "☎", "UCS-2", 1, 1),  # U+260E is in the BMP: one unit
    ("long-gsm-1600", "a" * 1600, "GSM-7", 1600, 11),  # 10 x 153 = 1530, then 70
    ("long-ucs2-1600", "á" * 1600, "UCS-2", 1600, 24),  # 23 x 67 = 1541, then 59
]


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [pytest.param(*row[1:], id=row[0]) for row in SEGMENT_TABLE],
)
def test_segment_count_follows_gsm_03_38(text, encoding, units, segments):
    info = segment_info(text)

    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)
    assert info.characters == len(text)


def test_basic_table_has_127_characters_plus_escape():
    # 128 positions, one of which (0x1B) is the escape to the extension table.
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


def test_characters_that_force_ucs2_are_reported_in_order():
    info = segment_info("Información sí 😀 ó")

    assert info.non_gsm == ("ó", "í", "😀")


def test_spanish_vowels_with_acute_are_not_gsm7_but_n_tilde_and_e_acute_are():
    assert not any(is_gsm7(ch) for ch in "áíóúÁÍÓÚ")
    assert all(is_gsm7(ch) for ch in "ñÑéÉüÜ¿¡")


def test_fold_accents_writes_a_i_o_u_and_keeps_what_gsm7_has():
    text = "Está en la información según él: ¿sí? ¡Ñandú! Pingüino ÁÍÓÚ"

    assert fold_accents(text) == "Esta en la informacion segun él: ¿si? ¡Ñandu! Pingüino AIOU"
    assert is_gsm7(fold_accents(text))


def test_plain_punctuation_replaces_typographic_characters():
    text = "“Tus derechos” — ‘siempre’… • «sí»\u00a0ok\u200b"

    assert plain_punctuation(text) == '"Tus derechos" - \'siempre\'... - "sí" ok'


def test_tidy_whitespace_removes_invisible_cost():
    assert tidy_whitespace("  Hola  \r\n\n\n\nMundo \t\n") == "Hola\n\nMundo"


def test_text_variants_go_from_unchanged_to_folded():
    assert text_variants("“Sí”", fold=True) == ["“Sí”", '"Sí"', '"Si"']
    assert text_variants("Sí", fold=False) == ["Sí"]
    assert text_variants("plain", fold=True) == ["plain"]


def test_cheapest_changes_text_only_when_it_saves_a_segment():
    short = "¿Qué es SOP 130? Está en vigor."  # 31 characters: one message either way
    long = "Información: " + "a" * 120  # 133: UCS-2 2 segments, GSM-7 1 segment

    assert cheapest(short, fold=True) == short
    assert cheapest(long, fold=True) == "Informacion: " + "a" * 120
    assert cheapest(long, fold=False) == long


def test_folding_cost_shows_both_ways():
    cost = folding_cost("Información " * 10)  # 120 characters

    assert (cost.plain.encoding, cost.plain.segments) == ("UCS-2", 2)  # 120 > 70: 67 + 53
    assert (cost.folded.encoding, cost.folded.segments) == ("GSM-7", 1)  # 120 <= 160


def test_split_message_keeps_short_text_whole():
    assert split_message("  Hola  ") == ["Hola"]
    assert split_message("") == []


def test_split_message_cuts_at_paragraph_boundaries():
    paragraphs = ["p" * 900, "q" * 900, "r" * 500]

    parts = split_message("\n\n".join(paragraphs))

    assert parts == ["p" * 900, "q" * 900 + "\n\n" + "r" * 500]


def test_split_message_splits_a_huge_paragraph_at_spaces():
    words = " ".join(["palabra"] * 500)  # 3999 characters, no line breaks

    parts = split_message(words)

    assert all(sms_length(part) <= 1600 for part in parts)
    assert " ".join(parts).split() == words.split()


def test_split_message_counts_emoji_as_two():
    parts = split_message("😀" * 1000, limit=1600)

    assert [sms_length(p) for p in parts] == [1600, 400]


@given(
    st.lists(
        st.text(alphabet=st.sampled_from("ab ñá😀\n"), min_size=0, max_size=300), max_size=12
    ),
    st.integers(min_value=10, max_value=400),
)
def test_split_message_never_exceeds_the_limit_or_loses_words(paragraphs, limit):
    text = "\n\n".join(paragraphs)

    parts = split_message(text, limit=limit)

    assert all(0 < sms_length(part) <= limit for part in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())


# A deliberately plain reference, written from the rules above, to cross-check the fast code.
_REFERENCE_GSM = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_REFERENCE_EXTENSION = set("\f^{}\\[~]|€")


def _reference_segments(text):
    if not text:
        return 0
    if all(ch in _REFERENCE_GSM or ch in _REFERENCE_EXTENSION for ch in text):
        costs = [2 if ch in _REFERENCE_EXTENSION else 1 for ch in text]
        single, multi = 160, 153
    else:
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        single, multi = 70, 67
    if sum(costs) <= single:
        return 1
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments, used = segments + 1, 0
        used += cost
    return segments


@given(st.text(alphabet=st.sampled_from("aZ 9\n€[|^ñé¿áó😀☎"), max_size=700))
def test_segment_count_matches_a_plain_reference(text):
    assert segment_info(text).segments == _reference_segments(text)
