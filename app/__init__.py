"""Application wiring: configuration, bootstrap of the pieces, the admin command line."""
