"""How replies look as SMS: numbered choices, one navigation line, few segments."""

from __future__ import annotations

from bot.channels.sms.render import choice_lines, render_sms, render_sms_parts
from bot.messages import Choice, Reply
from bot.sms_text import segment_info

NAV_ES = (Choice("c:menu", "Menú"), Choice("c:lang", "English"))
NAV_EN = (Choice("c:menu", "Menu"), Choice("c:lang", "Español"))


def test_choices_are_numbered_and_nav_is_one_short_line():
    reply = Reply(
        text="What do you want to know?",
        choices=(Choice("what", "What SOP 130 says"), Choice("warrants", "Warrants")),
        nav=NAV_EN,
    )

    assert render_sms(reply, fold_accents=False) == (
        "What do you want to know?\n\n1 What SOP 130 says\n2 Warrants\n0 Menu / Español"
    )


def test_reply_without_options_is_just_the_text():
    reply = Reply(text="  Hello there.  \n\n\n")

    assert render_sms(reply, fold_accents=False) == "Hello there."


def test_options_without_text_are_rendered_alone():
    reply = Reply(text="", choices=(Choice("a", "Yes"),))

    assert render_sms(reply, fold_accents=False) == "1 Yes"


def test_unknown_nav_options_show_their_label_only():
    reply = Reply(text="x", nav=(Choice("c:help", "Ayuda"), Choice("c:menu", "Menú")))

    assert choice_lines(reply) == ["Ayuda / 0 Menú"]


def test_labels_are_kept_on_one_line():
    reply = Reply(text="x", choices=(Choice("a", "Two\nlines  here"),))

    assert choice_lines(reply) == ["1 Two lines here"]


def test_blank_line_is_dropped_when_it_would_cost_a_segment():
    # 150 + 2 newlines + "1 Sí" (4) = 156 GSM-7 septets: the blank line is free.
    text = "a" * 150
    free = Reply(text=text, choices=(Choice("a", "Si"),))
    assert render_sms(free, fold_accents=False) == text + "\n\n1 Si"

    # 155 + "\n\n" + 4 = 161 would need 2 segments; with one newline it is 160: one message.
    tight = Reply(text="a" * 155, choices=(Choice("a", "Si"),))
    rendered = render_sms(tight, fold_accents=False)
    assert rendered == "a" * 155 + "\n1 Si"
    assert segment_info(rendered).segments == 1


def test_spanish_accents_are_kept_when_folding_is_off():
    reply = Reply(
        text="¿Qué quieres saber?",
        choices=(Choice("what", "Qué dice SOP 130"), Choice("w", "Órdenes judiciales")),
        nav=NAV_ES,
        locale="es",
    )

    assert render_sms(reply, fold_accents=False) == (
        "¿Qué quieres saber?\n\n1 Qué dice SOP 130\n2 Órdenes judiciales\n0 Menú / English"
    )


def test_folding_is_used_only_when_it_saves_a_segment():
    short = Reply(text="Sí, está bien.", nav=NAV_ES, locale="es")  # one message either way
    assert render_sms(short, fold_accents=True) == "Sí, está bien.\n\n0 Menú / English"

    long = Reply(text="Información sobre tus derechos. " * 4, nav=NAV_ES, locale="es")
    rendered = render_sms(long, fold_accents=True)
    assert rendered.startswith("Informacion sobre tus derechos.")
    assert rendered.endswith("0 Menu / English")
    assert segment_info(rendered).encoding == "GSM-7"
    assert segment_info(rendered).segments == 1  # 127 + 2 + 16 = 145 septets
    assert segment_info(render_sms(long, fold_accents=False)).segments == 3  # UCS-2 145


def test_folding_keeps_n_tilde_and_inverted_marks():
    reply = Reply(text="¿Niño? ¡Sí! Está aquí. " * 6, locale="es")

    rendered = render_sms(reply, fold_accents=True)

    assert rendered.startswith("¿Niño? ¡Si! Esta aqui.")
    assert segment_info(rendered).encoding == "GSM-7"


def test_typographic_punctuation_is_made_plain_only_when_it_saves():
    short = Reply(text="“Hola”")
    assert render_sms(short, fold_accents=False) == "“Hola”"

    long = Reply(text="“Hola” " + "a" * 100)
    assert render_sms(long, fold_accents=False) == '"Hola" ' + "a" * 100


def test_long_reply_is_split_into_messages_of_at_most_1600_characters():
    paragraphs = ["Párrafo uno. " * 70, "Párrafo dos. " * 70, "Párrafo tres. " * 30]
    reply = Reply(text="\n\n".join(paragraphs), nav=NAV_ES)

    parts = render_sms_parts(reply, fold_accents=False)

    assert len(parts) == 2
    assert all(len(part) <= 1600 for part in parts)
    assert parts[0] == paragraphs[0].strip()  # 910 characters; with the next, 1822
    assert parts[1].startswith(paragraphs[1].strip())
    assert parts[1].endswith("0 Menú / English")
