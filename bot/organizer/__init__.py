"""What organizers touch: their wording, the command line and the Telegram console."""
