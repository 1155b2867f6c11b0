"""Sending limits shared by every bot process, kept in the database.

Design: slot reservation. The table `rate_limit` holds, per key, the wall-clock moment
(Unix seconds) when the next message may go out: the channel's lanes (`lane_key`, the overall
limit, e.g. 30 messages/s, split as below), one key per chat (1/s for a person, 20/min for a
group; each outbox row says whether its chat is a group), and the channel's own key, which
only a 429 moves. A sender claims a batch of outbox rows and, in the same transaction, gives
each row a send slot and moves the keys forward. The channel's key is locked first
(`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` takes the whole
database), so reservations of all processes are serialised and never overlap: N processes
together keep to the limit, and each sends at the moments it reserved. Only about one second
of slots (`HORIZON`) is reserved at a time, so an interactive reply, claimed before bulk rows
(`Outbox.priority`), waits at most that long behind a reminder wave. A 429 moves the
channel's and the chat's keys to `now + retry_after`, so every process obeys it.

Lanes: a fast channel's limit is kept as several lanes (`Limits.lanes`), each a share of it
with its own key. A process takes the lanes it keeps up with, so two processes that each
manage half the limit send side by side. With one key they took turns: each had to send its
second of slots at the whole limit, fell behind, and its late calls met the other's on-time
ones at the platform (429s). A lane's slots never overlap, so the lanes together keep to the
limit; a lane's phase can add one message to a sliding second, which is why there are no
more lanes than the headroom's messages (at 30/s one lane: the single key of before).

The adapters stay thin: they send and turn a 429 into `RetryLater`; nothing in them counts.
This module is the arithmetic; the keys' statements are `storage.sending`'s (through
`channels.queue`).
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.base import ChannelSettings

HORIZON = 1.0  # seconds of slots a sender reserves ahead
HEADROOM = 0.97  # keep this far under a limit, so network jitter does not cross it
MAX_LANES = 8


@dataclass(frozen=True)
class Limits:
    """A channel's limits; 0 switches one off."""

    per_second: float = 0.0
    per_chat_per_second: float = 0.0
    per_group_per_minute: float = 0.0

    @classmethod
    def of(cls, settings: ChannelSettings) -> Limits:
        return cls(settings.messages_per_second, settings.per_chat_per_second,
                   settings.per_group_per_minute)

    @property
    def active(self) -> bool:
        return bool(self.per_second or self.per_chat_per_second or self.per_group_per_minute)

    @property
    def interval(self) -> float:
        """Seconds between two messages of the channel."""
        return 1 / (self.per_second * HEADROOM) if self.per_second else 0.0

    @property
    def lanes(self) -> int:
        """Lanes of the channel's limit: at most one per message of the headroom (at 30/s
        one, as a single key; at 1,000/s `MAX_LANES`)."""
        if not self.per_second:
            return 1
        return max(1, min(MAX_LANES, int(self.per_second * (1 - HEADROOM))))

    @property
    def lane_interval(self) -> float:
        """Seconds between two messages of one lane."""
        return self.interval * self.lanes

    def chat_interval(self, chat_id: str, is_group: bool = False) -> float:
        """Seconds between two messages to one chat. A chat is a group when its row says so
        (`Outbox.is_group`, decided from the event that caused the row). An id starting with
        "-" is paced as a group as well: on Telegram only groups and channels have such ids,
        and rows queued before the flag existed say "private". When the two disagree the
        group pace wins: a wrong guess costs a wait, the other way round a 429."""
        group = is_group or chat_id.startswith("-")
        rate = self.per_group_per_minute / 60 if group else self.per_chat_per_second
        return 1 / (rate * HEADROOM) if rate else 0.0

    def batch_size(self, cap: int) -> int:
        """How many rows one reservation may take: about `HORIZON` seconds of sending."""
        return max(1, min(cap, int(self.per_second * HORIZON))) if self.per_second else cap


def chat_key(channel: str, chat_id: str) -> str:
    return f"{channel}:{chat_id}"


def lane_key(channel: str, lane: int) -> str:
    return f"{channel}#{lane}"
