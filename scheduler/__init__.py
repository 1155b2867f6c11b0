"""The production clock: APScheduler triggers the core sweep with the current time."""
