"""Reuse the real app on loopback, the local Teams/Slack services and the generated plant."""

from tests.bot.conftest import plant, plant_dir, served, stub

__all__ = ["plant", "plant_dir", "served", "stub"]
