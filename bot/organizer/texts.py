"""Every string organizers see (broadcast authoring, preview, progress, reports, stats).

Marked like :mod:`bot.content.strings` (``pgettext(context, english)``, contexts
``organizer:*``) so
``kyrbot i18n update`` extracts them and translators translate them in the same PO files;
kept in a module of their own, free of heavy imports, so ``kyrbot check`` can list them.
Placeholders in braces are filled by :mod:`bot.organizer.reports` and the console; keep them
in translations. The broadcast service's refusals are in :mod:`bot.broadcast.refusals`.
"""

from __future__ import annotations

from bot.content.strings import pgettext

# -- writing a broadcast on Telegram ----------------------------------------------------------

ASK_TEXT = pgettext(
    "organizer:ask_text",
    "New broadcast, text {number} of {total}: send the update in {language}, as people should "
    "read it. /cancel stops without sending anything.",
)
ASK_TEXT_OPTIONAL = pgettext(
    "organizer:ask_text_optional",
    "Text {number} of {total}: send the update in {language}. Or send /skip: people who read "
    "{language} then get the English text. /cancel stops without sending anything.",
)
ASK_EDIT = pgettext(
    "organizer:ask_edit",
    "Editing broadcast #{id}, text {number} of {total} ({language}). Now it says:\n\n{current}"
    "\n\nSend the new text, or /keep to keep it.",
)
NEED_TEXT = pgettext(
    "organizer:need_text", "Please send the update as a text message, or /cancel to stop."
)
AUTHORING_STOPPED = pgettext("organizer:authoring_stopped", "Stopped. Nothing was sent.")
CANNOT_SKIP_ENGLISH = pgettext(
    "organizer:cannot_skip_english",
    "English cannot be skipped: it is what people get when their language has no text.",
)

# -- buttons ----------------------------------------------------------------------------------

BUTTON_SEND = pgettext("organizer:button_send", "Send")
BUTTON_EDIT = pgettext("organizer:button_edit", "Edit")
BUTTON_CANCEL = pgettext("organizer:button_cancel", "Cancel")
BUTTON_STOP = pgettext("organizer:button_stop", "Stop sending")
BUTTON_REFRESH = pgettext("organizer:button_refresh", "Refresh")

# -- preview ----------------------------------------------------------------------------------

PREVIEW_TITLE = pgettext("organizer:preview_title", "Broadcast #{id}: preview")
RECIPIENTS = pgettext("organizer:recipients", "Recipients: {count}")
CHANNEL_LINE = pgettext("organizer:channel_line", "{channel}: {counts}")
GETS_ENGLISH = pgettext("organizer:gets_english", "{language} (gets English)")
SMS_LINE = pgettext(
    "organizer:sms_line", "SMS in {language}: {encoding}, segments per message: {segments}"
)
SMS_FOLDED_ALTERNATIVE = pgettext(
    "organizer:sms_folded_alternative",
    "with accents folded: {encoding}, segments per message: {segments}",
)
SMS_ACCENTS_ALTERNATIVE = pgettext(
    "organizer:sms_accents_alternative",
    "keeping accents: {encoding}, segments per message: {segments}",
)
SMS_COST = pgettext(
    "organizer:sms_cost", "Estimated SMS cost: {cost} (segments: {segments}, at {price} each)"
)
SMS_COST_FOLDED = pgettext(
    "organizer:sms_cost_folded",
    "With accents folded in every language: {cost} (segments: {segments})",
)
SMS_COST_ACCENTS = pgettext(
    "organizer:sms_cost_accents", "Keeping every accent: {cost} (segments: {segments})"
)
# Translators: a broadcast preview line for WhatsApp; the window opens when a person writes.
WINDOW_FREE_FORM = pgettext(
    "organizer:window_free_form",
    "{channel}, wrote in the last {hours} hours: {count} get the text as written ({cost})",
)
WINDOW_TEMPLATE = pgettext(
    "organizer:window_template",
    "{channel}, outside the {hours}-hour window: {count} get the approved template ({cost})",
)
WINDOW_LEFT_OUT = pgettext(
    "organizer:window_left_out",
    "{channel}, outside the {hours}-hour window with no template in {languages}: "
    "{count} left out (not sent)",
)
MISSING_FALLBACK = pgettext(
    "organizer:missing_fallback",
    "No text in {languages}: those people get the English text (fallback allowed).",
)
AS_IT_ARRIVES = pgettext("organizer:as_it_arrives", "{language}, as it will arrive:")
AS_IT_ARRIVES_SMS = pgettext(
    "organizer:as_it_arrives_sms", "{language} by SMS, as it will arrive:"
)
CONFIRM_HINT = pgettext(
    "organizer:confirm_hint", "Check the texts above. Nothing goes out until you press Send."
)

# -- sending and reports ----------------------------------------------------------------------

PROGRESS = pgettext(
    "organizer:progress", "Broadcast #{id}: sending… {done} of {total} done ({percent})"
)
PREPARING = pgettext("organizer:preparing", "Broadcast #{id}: preparing the recipient list…")
REPORT_TITLE = pgettext("organizer:report_title", "Broadcast #{id}: finished")
REPORT_CANCELLED = pgettext("organizer:report_cancelled", "Broadcast #{id}: cancelled")
REPORT_DRAFT = pgettext("organizer:report_draft", "Broadcast #{id}: draft, not sent")
REPORT_CHANNEL = pgettext(
    "organizer:report_channel",
    "{channel}: sent {sent}, delivered {delivered}, failed {failed}, opted out {opted_out}, "
    "unknown {unknown}",
)
REPORT_CHANNEL_NO_DLR = pgettext(
    "organizer:report_channel_no_dlr",
    "{channel}: sent {sent}, failed {failed}, opted out {opted_out}, unknown {unknown}",
)
REPORT_TOTAL = pgettext(
    "organizer:report_total",
    "In all: sent {sent}, delivered {delivered}, failed {failed}, opted out {opted_out}, "
    "unknown {unknown}",
)
REPORT_NOT_SENT = pgettext(
    "organizer:report_not_sent", "Not sent: {skipped} no longer subscribed, {cancelled} cancelled"
)
REPORT_WAITING = pgettext("organizer:report_waiting", "Still waiting: {waiting}")
REPORT_UNKNOWN_NOTE = pgettext(
    "organizer:report_unknown_note",
    "Unknown: the sender stopped or timed out mid-send, so these may or may not have arrived; "
    "they are not sent again, to avoid sending anyone two copies.",
)
SENT_AT = pgettext("organizer:sent_at", "Started {when}")

STATS_TITLE = pgettext(
    "organizer:stats_title",
    "Topics people opened, per week (counts only; nobody can be identified):",
)
STATS_WEEK = pgettext("organizer:stats_week", "Week of {date}: {total}")
STATS_NONE = pgettext("organizer:stats_none", "No topics were counted in the last {weeks} weeks.")
# Translators: {median} is a duration the bot writes, such as "4 minutes", or "none" (below).
STATS_TICKETS = pgettext(
    "organizer:stats_tickets",
    "Chats with volunteers in the last {weeks} weeks: {opened} opened, {answered} answered; "
    "median time to a first answer: {median}.",
)
STATS_NO_MEDIAN = pgettext("organizer:stats_no_median", "none yet")

# -- content reloads --------------------------------------------------------------------------

RELOAD_REFUSED = pgettext(
    "organizer:reload_refused",
    "A content reload was refused: the bot keeps serving the previous content. Fix these and "
    "reload again:\n{problems}",
)
