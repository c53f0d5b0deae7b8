"""Thin clients for the outside world (Twilio, OpenAI, Meta). They never touch the database."""
