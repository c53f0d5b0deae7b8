"""The AI phone agent: Twilio voice webhook, media-stream WebSocket, the realtime bridge, call records."""
