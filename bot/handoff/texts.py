"""Every string of the handoff: what the person reads, and what volunteers read in the group.

Person-facing texts go through the catalogs like any reply (``{hotline}`` and the other
organization placeholders are filled from config). Volunteers read the group's texts in the
bot's default language.
"""

from __future__ import annotations

from bot.content.strings import pgettext

# -- what the person reads ---------------------------------------------------------------------

ON_DUTY = pgettext(
    "handoff:on_duty",
    "Write your question now. A volunteer will answer here as soon as they can.",
)
# Translators: {hours} is written by the bot, for example "Mon-Fri 09:00-17:00".
OFF_DUTY = pgettext(
    "handoff:off_duty",
    "No volunteer is on duty right now ({hours}). If it is happening now, call {hotline}.",
)
# Translators: fills {hours} in handoff:off_duty when the hours are not written in config.
HOURS_UNKNOWN = pgettext("handoff:hours_unknown", "try again later")
UNAVAILABLE = pgettext(
    "handoff:unavailable",
    "Volunteers do not answer messages on this line. To talk to a person, call {org_phone}.",
)
CALL_HOTLINE = pgettext("handoff:call_hotline", "To talk to a person, call {hotline}.")
# Translators: put before each answer a volunteer writes; {text} is their answer as written.
VOLUNTEER_SAYS = pgettext("handoff:volunteer_says", "Volunteer: {text}")
LEFT = pgettext(
    "handoff:left", "You left the chat with the volunteer. Nothing you wrote there is kept."
)
CLOSED_BY_VOLUNTEER = pgettext(
    "handoff:closed_by_volunteer",
    "The volunteer ended this chat. Send MENU for the topics, or VOLUNTEER to write again.",
)
CLOSED_IDLE = pgettext(
    "handoff:closed_idle",
    "This chat with a volunteer ended because no one wrote for a while. Send VOLUNTEER to "
    "write again, or MENU for the topics.",
)
NOT_DELIVERED = pgettext(
    "handoff:not_delivered",
    "Your message could not reach a volunteer right now. Please try again. If it is "
    "happening now, call {hotline}.",
)
TEXT_ONLY = pgettext(
    "handoff:text_only", "Volunteers can only read text. Please type your message."
)
# Translators: whole-message words that end a chat with a volunteer (besides the menu words).
END_WORDS = pgettext("handoff:end_words", "exit, quit, end chat, stop chat")

PERSON_TEXTS = (
    ON_DUTY,
    OFF_DUTY,
    UNAVAILABLE,
    CALL_HOTLINE,
    VOLUNTEER_SAYS,
    LEFT,
    CLOSED_BY_VOLUNTEER,
    CLOSED_IDLE,
    NOT_DELIVERED,
    TEXT_ONLY,
)
"""Every text a person may get from the handoff (``kyrbot check`` measures them by SMS)."""

# -- what volunteers read in their group -----------------------------------------------------

# Translators: the head of each relayed message; {page} is a page id, such as "arrested".
HEADER = pgettext("volunteers:header", "Ticket {ticket} · {locale} · {channel} · from: {page}")
NEW_TICKET = pgettext(
    "volunteers:new_ticket",
    "New ticket. Reply to a ticket message to answer (or /r {ticket} text); /close {ticket} "
    "ends it. You will not see who this is: do not ask for a name, number or address.",
)
NO_PAGE = pgettext("volunteers:no_page", "menu")
EMERGENCY = pgettext(
    "volunteers:emergency",
    "EMERGENCY WORD: the bot showed the person its emergency page and the hotline.",
)
MEDIA = pgettext("volunteers:media", "(the person sent a photo or file; it is not relayed)")
CLAIMED = pgettext(
    "volunteers:claimed",
    "Ticket {ticket} is being answered by another volunteer; nothing of yours was sent.",
)
UNKNOWN = pgettext("volunteers:unknown", "There is no open ticket {ticket}.")
CLOSED = pgettext("volunteers:closed", "Ticket {ticket} is closed.")
CLOSED_PERSON = pgettext("volunteers:closed_person", "Ticket {ticket}: the person left the chat.")
CLOSED_IDLE_GROUP = pgettext(
    "volunteers:closed_idle", "Ticket {ticket} closed: nobody wrote for {minutes} minutes."
)
FORGOTTEN = pgettext(
    "volunteers:forgotten", "Ticket {ticket} closed: the person erased their data."
)
TOO_LONG = pgettext(
    "volunteers:too_long",
    "Too long for this person's phone ({units} SMS, at most {limit}). Shorten it; nothing "
    "was sent.",
)
NOT_SENT = pgettext("volunteers:not_sent", "Ticket {ticket}: your answer could not be delivered.")
QUEUED = pgettext(
    "volunteers:queued",
    "Ticket {ticket}: the person's phone service did not take your answer yet. It is kept and "
    "tried again for {minutes} minutes; nothing else to do.",
)
OPEN_TICKETS = pgettext("volunteers:open_tickets", "Open tickets:")
NO_TICKETS = pgettext("volunteers:no_tickets", "No open tickets.")
# Translators: one line of /tickets; {who} is volunteers:nobody or the volunteer's id.
TICKET_LINE = pgettext(
    "volunteers:ticket_line", "{header} · {received} in, {sent} out · answering: {who}"
)
NOBODY = pgettext("volunteers:nobody", "nobody yet")
USAGE = pgettext(
    "volunteers:usage",
    "Answer by replying to a ticket message, or /r K7P your answer. /close K7P ends a ticket; "
    "/tickets lists the open ones.",
)
