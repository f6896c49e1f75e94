"""The WhatsApp channel (Twilio WhatsApp senders): numbered menus, the 24-hour window."""
