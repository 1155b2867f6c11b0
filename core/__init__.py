"""Domain rules of the reporting bot: pure functions and value objects, no I/O."""
