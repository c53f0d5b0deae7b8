"""The AI WhatsApp agent: webhooks (Twilio, Meta), conversations, the inbox, AI replies, sends."""
