#!/usr/bin/env python3
"""Entry point: `python bot.py --help`. Wiring lives in `app/`."""

from app.cli import cli

if __name__ == "__main__":
    cli(prog_name="bot.py")
