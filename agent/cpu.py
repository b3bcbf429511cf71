"""Which of a turn's CPU work runs on the event loop, and which goes to a worker thread."""

from __future__ import annotations

# Up to this many characters, parsing (about 8 ms) and the in-process search (about 20 ms at
# 100k notifications) cost less than a hop to a worker thread and its fight for the GIL. A
# 10,000-character message takes some 170 and 200 ms: on the loop, that would stall every other
# conversation and the channel endpoints.
INLINE_MAX_CHARS = 1000


def on_loop(text: str) -> bool:
    """Whether work on this text is short enough to run on the event loop."""
    return len(text) <= INLINE_MAX_CHARS
