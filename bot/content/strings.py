"""Every user-visible string that lives in code rather than in dialogs, marked for extraction.

Each entry is ``pgettext(context, english)``: ``pybabel extract`` finds the calls, and at run
time :class:`bot.content.i18n.Translator` looks the pair up in the reader's catalog. ``command:*``
entries are comma-separated words that trigger a global command; translators add the words
people use in their language, and every configured language's words work everywhere.
"""

from __future__ import annotations

from typing import NamedTuple


class Text(NamedTuple):
    """A translatable string: its msgctxt and English msgid."""

    context: str
    msgid: str


def pgettext(context: str, message: str) -> Text:
    """Mark a string for extraction; translation happens later, per reader."""
    return Text(context, message)


# Translators: the name of your language, written in your language (Español).
LANGUAGE_NAME = pgettext("system:language_name", "English")
LANGUAGE_PROMPT = pgettext("system:language_prompt", "Choose your language:")
NOT_UNDERSTOOD = pgettext(
    "system:not_understood",
    "Sorry, I did not understand. Ask in a few words, or send 0 for the menu.",
)
OUT_OF_RANGE = pgettext(
    "system:out_of_range", "Please reply with a number from 1 to {count}, or 0 for the menu."
)
OUT_OF_RANGE_ONE = pgettext("system:out_of_range_one", "Please reply 1, or 0 for the menu.")
# Translators: offered before two or three likely topics, when the bot is not sure.
ASK_BACK = pgettext("system:ask_back", "Do you mean one of these?")
OUT_OF_SCOPE = pgettext(
    "system:out_of_scope",
    "I can only answer about rights with police and ICE in Milwaukee. Send 0 for the menu.",
)
HANDOFF = pgettext(
    "system:handoff",
    "To talk to a person, call {org_phone}. If it is happening now, send ICE.",
)
APOLOGY = pgettext(
    "system:apology", "Sorry, something went wrong on our side. Here is the menu again."
)
MEDIA_ONLY = pgettext(
    "system:media_only", "I can only read text. Please type your question or a menu number."
)
GROUP_CHAT = pgettext(
    "system:group_chat",
    "To protect your privacy I only answer in private chats. Please write to me directly.",
)
# Translators: said once in a Telegram group the bot was added to, just before it leaves.
PRIVATE_CHATS_ONLY = pgettext(
    "telegram:private_chats_only",
    "I only work in private chats, so that what each person asks stays private. "
    "Please write to me directly. I am leaving this group now.",
)
DISCLAIMER = pgettext("system:disclaimer", "General information, not legal advice.")
# Translators: fills {legal_review} on the about page when a lawyer has reviewed the content.
LEGAL_REVIEWED = pgettext("system:legal_reviewed", "Reviewed by a lawyer on {date}.")
# Translators: fills {legal_review} on the about page while no lawyer has reviewed it.
NOT_LEGALLY_REVIEWED = pgettext("system:not_legally_reviewed", "Not yet reviewed by a lawyer.")
FORGOTTEN = pgettext(
    "system:forgotten",
    "Done. I erased everything I kept about you. Send any message to start again.",
)
SUBSCRIBED = pgettext(
    "system:subscribed",
    "You are subscribed to policy updates. To stop them, send STOP UPDATES.",
)
ALREADY_SUBSCRIBED = pgettext(
    "system:already_subscribed", "You are already subscribed to policy updates."
)
UNSUBSCRIBED = pgettext(
    "system:unsubscribed",
    "You will not get policy updates any more. You can still ask me anything.",
)
OPTED_OUT = pgettext(
    "system:opted_out",
    "You will not get more messages from us. To start again, send START.",
)
OPTED_IN = pgettext("system:opted_in", "Welcome back. You can message us again.")
SMS_HELP = pgettext(
    "system:sms_help",
    "Know-your-rights info line from {org_name}. Send MENU for topics, ICE if it is "
    "happening now, STOP to stop. Msg & data rates may apply.",
)
NAV_MENU = pgettext("system:nav_menu", "Menu")
NAV_BACK = pgettext("system:nav_back", "Back")
NAV_LANGUAGE = pgettext("system:nav_language", "Language")
MORE = pgettext("system:more", "More")
NO_UPDATES = pgettext("system:no_updates", "There are no updates yet.")
UPDATE_ITEM = pgettext("system:update_item", "{date}: {text}")

# Words that work from any step. Matched against the whole message, ignoring case and accents.
COMMAND_MENU = pgettext("command:menu", "menu, main menu, home, start over, 0")
COMMAND_BACK = pgettext("command:back", "back, go back, previous")
COMMAND_HELP = pgettext("command:help", "help, ?")
COMMAND_LANGUAGE = pgettext("command:language", "language, change language")
COMMAND_FORGET = pgettext("command:forget", "delete, forget me, delete my data, erase")
COMMAND_EMERGENCY = pgettext(
    "command:emergency", "ice, help now, emergency, urgent, its happening now"
)
COMMAND_SUBSCRIBE = pgettext("command:subscribe", "join, subscribe")
# Translators: whole-message words that ask to write with a volunteer (a person) here.
COMMAND_PERSON = pgettext("command:person", "volunteer, agent, live person")
COMMAND_UNSUBSCRIBE = pgettext(
    "command:unsubscribe", "stop updates, unsubscribe, no more updates, leave"
)  # Translators: never a single word that also starts a question (not just "stop").
COMMAND_LANG_EN = pgettext("command:lang:en", "english, in english, en")
COMMAND_LANG_ES = pgettext("command:lang:es", "spanish, in spanish, es")
# Translators: common first words in your language; they help detect the language of a
# first message, so list words that only speakers of your language type.
GREETING_WORDS = pgettext(
    "command:greeting",
    "hi, hello, hey, good morning, good afternoon, good evening, thanks, thank you, please, "
    "i need, what, how",
)

# What the content says when an organization placeholder has no configured value. The content
# is written so that each sentence reads well with a real value and with these words: a phone
# placeholder follows "call" ("llame al" in Spanish), so its fallback is a noun phrase that
# can follow the same words.
PLACEHOLDER_FALLBACKS: dict[str, Text] = {
    # Translators: follows "run by" / "lo ofrece"; used when no organisation name is set.
    "org_name": pgettext("placeholder:org_name", "a community organization"),
    # Translators: follows "call" (Spanish: "llame al"), where a phone number would go.
    "org_phone": pgettext("placeholder:org_phone", "a trusted local immigrant-rights group"),
    # Translators: where a website address would go.
    "org_website": pgettext("placeholder:org_website", "a trusted local immigrant-rights group"),
    # Translators: follows "call" (Spanish: "llame al"), where a phone number would go.
    "hotline": pgettext("placeholder:hotline", "a local rapid-response hotline"),
    # Translators: follows "talk to", "go to", "call" (Spanish: "hable con", "busque a",
    # "llame a"), where a legal service's name and phone would go.
    "legal_help": pgettext("placeholder:legal_help", "a licensed immigration lawyer"),
    # Translators: follows "call" (Spanish: "llame al"), where a phone number would go.
    "complaint_phone": pgettext(
        "placeholder:complaint_phone", "the number on the FPC's city web page"
    ),
    # Translators: follows "mail your complaint to" (Spanish: "mande su queja por correo a"),
    # where a postal address would go.
    "complaint_address": pgettext("placeholder:complaint_address", "Milwaukee City Hall"),
    # Translators: follows "file online at" (Spanish: "en"), where a web address would go.
    "complaint_website": pgettext(
        "placeholder:complaint_website", "the city of Milwaukee website"
    ),
    # Translators: follows "Content last reviewed:", where a date would go.
    "last_reviewed": pgettext("placeholder:last_reviewed", "date not recorded"),
}

LANGUAGE_COMMANDS: dict[str, Text] = {"en": COMMAND_LANG_EN, "es": COMMAND_LANG_ES}

# Telegram's command menu (the "/" button), one description per command.
TELEGRAM_COMMANDS: dict[str, Text] = {
    "start": pgettext("telegram:command:start", "Start over"),
    "menu": pgettext("telegram:command:menu", "Main menu"),
    "help": pgettext("telegram:command:help", "Help and how to reach a person"),
    "language": pgettext("telegram:command:language", "Change language"),
    "subscribe": pgettext("telegram:command:subscribe", "Get policy updates"),
    "unsubscribe": pgettext("telegram:command:unsubscribe", "Stop policy updates"),
    "forget": pgettext("telegram:command:forget", "Delete everything the bot keeps about you"),
}
