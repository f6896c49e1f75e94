"""Every string the organizers' web console shows, marked for the catalogs (``console:*``).

Marked like :mod:`bot.organizer.texts` so ``kyrbot i18n update`` extracts them into the same
PO files and ``kyrbot check`` counts them; the templates show them only through these names,
so no English is written in a template. Placeholders in braces are filled by the views.
"""

from __future__ import annotations

from bot.content.strings import pgettext

# -- every page -------------------------------------------------------------------------------

TITLE = pgettext("console:title", "Organizer console")
NAV_LABEL = pgettext("console:nav_label", "Console sections")
NAV_BROADCASTS = pgettext("console:nav_broadcasts", "Broadcasts")
NAV_NEW = pgettext("console:nav_new", "New broadcast")
NAV_STATS = pgettext("console:nav_stats", "Stats")
NAV_CONTENT = pgettext("console:nav_content", "Content")
LOG_OUT = pgettext("console:log_out", "Log out")
SKIP_TO_CONTENT = pgettext("console:skip_to_content", "Skip to the content")

# -- logging in -------------------------------------------------------------------------------

LOGIN_TITLE = pgettext("console:login_title", "Log in to the organizer console")
LOGIN_EXPLAIN = pgettext(
    "console:login_explain",
    "This link works once, for 10 minutes. Press the button to log in on this device.",
)
LOGIN_BUTTON = pgettext("console:login_button", "Log in")
REFUSED_TITLE = pgettext("console:refused_title", "Not allowed")
REFUSED = pgettext(
    "console:refused",
    "This link cannot be used. Ask the bot for a new one: send /console to it in Telegram.",
)
LOGGED_OUT = pgettext("console:logged_out", "You are logged out.")
LINK_MESSAGE = pgettext(
    "console:link_message",
    "Your link to the organizer console (it works once, for 10 minutes; do not share it):\n{url}",
)

# -- broadcasts -------------------------------------------------------------------------------

BROADCASTS_TITLE = pgettext("console:broadcasts_title", "Broadcasts")
NO_BROADCASTS = pgettext("console:no_broadcasts", "No broadcasts yet.")
COL_NUMBER = pgettext("console:col_number", "Number")
COL_STATUS = pgettext("console:col_status", "Status")
COL_WHEN = pgettext("console:col_when", "When")
COL_TEXT = pgettext("console:col_text", "Text")
OPEN = pgettext("console:open", "Open #{id}")

COMPOSE_TITLE = pgettext("console:compose_title", "New broadcast")
COMPOSE_EXPLAIN = pgettext(
    "console:compose_explain",
    "Write the update once per language, as people should read it. Nothing is sent until "
    "you confirm on the next page.",
)
TEXT_IN = pgettext("console:text_in", "Text in {language}")
OPTIONAL_TEXT = pgettext(
    "console:optional_text",
    "Optional: left empty, people who read {language} get the English text.",
)
ALLOW_FALLBACK = pgettext(
    "console:allow_fallback",
    "Send the English text to languages left empty",
)
ESTIMATE = pgettext(
    "console:estimate",
    "SMS: {encoding}, {segments} segments, {characters} characters, estimated {cost} each",
)
ESTIMATE_EMPTY = pgettext("console:estimate_empty", "SMS: nothing written yet")
ESTIMATE_TOO_LONG = pgettext(
    "console:estimate_too_long", "Too long: {characters} characters, at most {limit}"
)
AS_SMS = pgettext("console:as_sms", "By SMS it arrives as:")
AS_CHANNEL = pgettext("console:as_channel", "On {channel} it arrives as:")
PREVIEW_BUTTON = pgettext("console:preview_button", "Preview")

PREVIEW_TITLE = pgettext("console:preview_title", "Broadcast #{id}: check before sending")
RECIPIENTS_TITLE = pgettext("console:recipients_title", "Who gets it")
COL_CHANNEL = pgettext("console:col_channel", "Channel")
COL_LANGUAGE = pgettext("console:col_language", "Language")
COL_PEOPLE = pgettext("console:col_people", "People")
COL_GETS = pgettext("console:col_gets", "Text they get")
CONFIRM_LABEL = pgettext(
    "console:confirm_label", "I checked the texts: send it to {count} people now"
)
SEND_BUTTON = pgettext("console:send_button", "Send")
EDIT_BUTTON = pgettext("console:edit_button", "Edit")
CANCEL_DRAFT = pgettext("console:cancel_draft", "Cancel this draft")
STOP_BUTTON = pgettext("console:stop_button", "Stop sending")
MUST_CONFIRM = pgettext("console:must_confirm", "Tick the box to confirm, then press Send.")

PROGRESS_TITLE = pgettext("console:progress_title", "Broadcast #{id}")
PROGRESS_LABEL = pgettext("console:progress_label", "Sent so far")
COL_DELIVERED = pgettext("console:col_delivered", "Delivered")
COL_SENT = pgettext("console:col_sent", "Sent")
COL_FAILED = pgettext("console:col_failed", "Failed")
COL_UNKNOWN = pgettext("console:col_unknown", "Unknown")
COL_OPTED_OUT = pgettext("console:col_opted_out", "Opted out")
REPORT_TITLE = pgettext("console:report_title", "Report")
TEXTS_TITLE = pgettext("console:texts_title", "Texts")

# -- stats ------------------------------------------------------------------------------------

STATS_TITLE = pgettext("console:stats_title", "What people ask about")
STATS_EXPLAIN = pgettext(
    "console:stats_explain",
    "Counts only, per week (starting Monday), for the last {weeks} weeks; nobody can be "
    "identified from them.",
)
CHART_BY_LANGUAGE = pgettext("console:chart_by_language", "Topics opened per week, by language")
CHART_BY_CHANNEL = pgettext("console:chart_by_channel", "Topics opened per week, by channel")
CHART_NOT_UNDERSTOOD = pgettext(
    "console:chart_not_understood",
    "Messages not understood per week (the bot asked back or said it did not understand)",
)
CHART_SUBSCRIBERS = pgettext(
    "console:chart_subscribers",
    "Subscribers today, by the week they subscribed (running total)",
)
TOP_TOPICS = pgettext("console:top_topics", "Topics opened, most first")
COL_WEEK = pgettext("console:col_week", "Week of")
COL_TOPIC = pgettext("console:col_topic", "Topic")
COL_COUNT = pgettext("console:col_count", "Count")
COL_TOTAL = pgettext("console:col_total", "Total")
NO_DATA = pgettext("console:no_data", "Nothing counted yet.")

# -- content ----------------------------------------------------------------------------------

CONTENT_TITLE = pgettext("console:content_title", "Content status")
COVERAGE_TITLE = pgettext("console:coverage_title", "Translations")
COL_TRANSLATED = pgettext("console:col_translated", "Translated")
COL_FUZZY = pgettext("console:col_fuzzy", "Needs review")
COL_MISSING = pgettext("console:col_missing", "Missing")
COL_ERRORS = pgettext("console:col_errors", "Errors")
COL_WARNINGS = pgettext("console:col_warnings", "Warnings")
CHECK_TITLE = pgettext("console:check_title", "kyrbot check")
CHECK_OK = pgettext("console:check_ok", "No errors.")
CHECK_PROBLEMS = pgettext(
    "console:check_problems", "Problems found: {errors} errors, {warnings} warnings."
)
ROUTING_TITLE = pgettext("console:routing_title", "Free-text routing, last evaluation")
ROUTING_NONE = pgettext("console:routing_none", "No evaluation figures were found in {file}.")
REVIEW_TITLE = pgettext("console:review_title", "Review dates")
LAST_REVIEWED = pgettext("console:last_reviewed", "Content last checked against sources: {date}")
NOT_REVIEWED = pgettext("console:not_reviewed", "Content last checked against sources: not set")
LEGAL_REVIEW = pgettext("console:legal_review", "Last legal review: {date}")
NO_LEGAL_REVIEW = pgettext("console:no_legal_review", "Last legal review: none recorded")
CHECKING = pgettext("console:checking", "The content check is running; reload in a minute.")
