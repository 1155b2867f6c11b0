"""Platform-free handlers: one module per command or conversation, picked by the router."""
