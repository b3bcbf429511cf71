"""`python -m agent.parsing.history_child`: learn the stored history and save its snapshot.

Run by `service.learn_in_child` with the parent's data dir and database in the environment;
the parent holds the snapshot folder's lock meanwhile and reads what this saves.
"""

from __future__ import annotations

import logging
import sys


def main() -> int:
    """Learn and save; exit 0 when the snapshot was saved."""
    from adapters.settings import Settings
    from agent.context import PMark
    from agent.parsing.service import learn_history

    logging.basicConfig(level=logging.WARNING)
    history = learn_history(PMark(Settings()), child=False, lock=False)
    return 0 if history.examples else 1


if __name__ == "__main__":
    sys.exit(main())
