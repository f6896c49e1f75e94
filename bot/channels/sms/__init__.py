"""The SMS adapter: Twilio webhooks, segment-aware rendering, keywords, REST sends."""
