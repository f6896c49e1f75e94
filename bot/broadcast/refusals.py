"""Why the broadcast service refuses an organizer's request, and the statuses it names.

Marked like :mod:`bot.content.strings` (contexts ``organizer:*``), so translators see them with
the rest of the organizer's words; :mod:`bot.broadcast.words` renders them.
"""

from __future__ import annotations

from bot.content.strings import Text, pgettext

# -- refusals ---------------------------------------------------------------------------------

ERROR_MISSING = pgettext(
    "organizer:error_missing",
    "Missing text in {languages}. Write it, or explicitly allow the English fallback.",
)
ERROR_NO_ENGLISH = pgettext(
    "organizer:error_no_english",
    "The English text is required: it is the fallback for every language.",
)
ERROR_UNKNOWN_LANGUAGE = pgettext(
    "organizer:error_unknown_language",
    "{language} is not one of the bot's languages ({languages}).",
)
ERROR_EMPTY = pgettext("organizer:error_empty", "The {language} text is empty.")
ERROR_TOO_LONG = pgettext(
    "organizer:error_too_long",
    "The {language} text has {length} characters; one message holds at most {limit}.",
)
ERROR_NOT_FOUND = pgettext("organizer:error_not_found", "There is no broadcast #{id}.")
ERROR_NOT_DRAFT = pgettext(
    "organizer:error_not_draft", "Broadcast #{id} is {status}: it cannot be changed or sent again."
)
ERROR_ALREADY_FINISHED = pgettext(
    "organizer:error_already_finished", "Broadcast #{id} is {status}: there is nothing to cancel."
)

STATUS_NAMES: dict[str, Text] = {
    "draft": pgettext("organizer:status:draft", "a draft"),
    "sending": pgettext("organizer:status:sending", "being sent"),
    "done": pgettext("organizer:status:done", "sent"),
    "cancelled": pgettext("organizer:status:cancelled", "cancelled"),
}
