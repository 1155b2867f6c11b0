"""The transcript harness: `.chat` transcripts played over a chat platform (the platform
sessions) against local emulators of the platforms' HTTP APIs (`testing.emulators`). Tests,
benchmarks and `bot.py console --script F.chat --channel telegram|zalo` use it; no
production package imports it."""
