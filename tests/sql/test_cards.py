"""The thread's latest card in the database: what workers and replicas agree on."""

from __future__ import annotations

import threading
from datetime import timedelta

from adapters.sql.cards import CardStore, StoredCard
from adapters.sql.migrate import upgrade
from adapters.sql.repository import Repository, utcnow
from bot.cardstate import CardTracker


def _store(db_url: str) -> CardStore:
    upgrade(db_url)
    return CardStore(Repository.from_url(db_url).engine)


def test_each_card_replaces_the_last_and_returns_it(db_url: str) -> None:
    store = _store(db_url)
    assert store.latest("t1") is None
    assert store.swap("t1", StoredCard("a1", "m1", '{"x": 1}')) is None
    assert store.swap("t1", StoredCard("a2", "m2", "{}")) == StoredCard("a1", "m1", '{"x": 1}')
    assert store.latest("t1") == StoredCard("a2", "m2", "{}")
    assert store.latest("t2") is None
    assert store.forget_before(utcnow() - timedelta(days=1)) == 0
    assert store.forget_before(utcnow() + timedelta(seconds=1)) == 1
    assert store.latest("t1") is None


def test_cards_sent_at_once_in_one_thread_each_replace_a_different_one(db_url: str) -> None:
    """Several processes sending in one thread: every card but one is returned exactly once."""
    store = _store(db_url)
    returned: list[str] = []
    lock = threading.Lock()

    def send(i: int) -> None:
        previous = store.swap("busy", StoredCard(f"a{i}", f"m{i}", ""))
        with lock:
            returned.append(previous.answer_id if previous else "")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert returned.count("") == 1  # one was first
    replaced = [r for r in returned if r]
    assert len(replaced) == len(set(replaced)) == 7
    latest = store.latest("busy")
    assert latest is not None and latest.answer_id not in replaced


async def test_two_processes_agree_on_the_current_card(db_url: str) -> None:
    """Worker A sends card 1, worker B card 2: A knows 1 is stale; B can close 1 though only A
    drew it."""
    a, b = CardTracker(store=_store(db_url)), CardTracker(store=_store(db_url))
    assert await a.replacing("t", "ans-1", "answer", '{"answer_id": "ans-1"}') is None
    assert await a.is_current("t", "ans-1") is True  # current before it is even posted
    assert await a.posted("t", "ans-1", "m1")
    previous = await b.replacing("t", "ans-2", "question", '{"answer_id": "ans-2"}')
    assert previous is not None
    assert (previous.message_id, previous.response) == ("m1", '{"answer_id": "ans-1"}')
    assert await a.is_current("t", "ans-1") is False
    assert await a.is_current("t", "ans-2") is True
    assert await b.replacing("t", "ans-3", "detail") is None  # a detail card replaces nothing
    await b.posted("t", "ans-3", "m3", "detail")
    # A card replaced while it was being posted: its poster learns it has to close it.
    assert not await a.posted("t", "ans-1", "m1-late")
    latest = await b.latest("t")
    assert latest is not None and (latest.answer_id, latest.message_id) == ("ans-2", "")
    alone = CardTracker()  # no store: only what this process sent
    assert await alone.is_current("t", "ans-1") is None
