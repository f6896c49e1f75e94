"""What the Twilio channels (SMS, WhatsApp, voice) share: signed webhooks, sender numbers."""
