"""Local emulators of the chat platforms' HTTP APIs, for tests and the transcript runner."""
