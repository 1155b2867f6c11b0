"""Use cases between handlers and storage: where a member's scope is checked."""
