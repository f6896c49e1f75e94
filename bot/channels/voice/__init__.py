"""The voice channel (Twilio Voice): pages read aloud, answers by keypad or by speech."""
