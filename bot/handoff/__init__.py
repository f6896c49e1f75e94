"""Talking to a person: tickets relayed between a person and the volunteers' Telegram group."""
