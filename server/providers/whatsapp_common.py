"""What the WhatsApp providers (Twilio, Meta) hand back to the whatsapp domain."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str
    status: str  # our delivery status: queued | sent | delivered | read | failed


class ProviderError(Exception):
    """A send the provider refused or could not take; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code
        self.status = status
