"""Channel adapters (console, Telegram, Zalo) and the sender that drains the outbox."""
