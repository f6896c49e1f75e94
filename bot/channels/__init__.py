"""Channel adapters: each turns one platform's payloads into :mod:`bot.messages` and back."""
