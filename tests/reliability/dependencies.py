"""Killed dependencies under load: the scenario shared by tests/reliability/test_dependencies.py
and benchmarks/bench_faults.py --dependencies.

A PostgreSQL-backed `pmark serve` (private PostgreSQL, Weaviate and LLM servers from
tests/reliability/servers.py) answers N concurrent Teams conversations, posted as real Bot
Framework activities signed by the in-test Stub, while these faults are injected in order:

1. pg_terminate_backend of every backend of its two databases;
2. PostgreSQL stopped for 10 s, then started;
3. Weaviate killed (SIGKILL), then restarted on the same data;
4. the LLM server killed, then restarted (to see readiness recover).

During each fault every conversation also redelivers one of its messages (the same activity id,
as Teams does after a timeout) and gives one thumb twice on its last answer. Definitions:

- a turn is *acknowledged* when its POST got 200;
- a turn is *answered exactly once* when exactly one answer card replies to it (replyToId), with
  at most one "saved, will finish when the database is back" notice before it and nothing else;
  a redelivered activity counts once, and must still get exactly one card;
- the *first-reply latency* of a turn is from its POST to the first message replying to it (the
  notice or the card); a turn belongs to a fault's window when it was posted between the
  injection and the dependency being back (for pg_terminate_backend: the 5 s after it);
- readiness *saw* an outage when a /readyz poll (every 0.25 s) in the window failed the
  dependency's check(s), and *recovered* when /readyz answered 200 afterwards;
- a thumb is *stored exactly once* when its (answer, item, user) row holds its vote in the
  application database after recovery;
- *acknowledged but missing* = acknowledged turns without an answer card plus thumbs not stored,
  after the spool has drained.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.bot.support import (
    Recorded,
    Stub,
    slack_event,
    slack_headers,
    teams_invoke,
    teams_message,
    write_plant,
)
from tests.reliability.servers import (
    APP_DB,
    PmarkServe,
    PrivateLLM,
    PrivatePostgres,
    PrivateWeaviate,
)

TEXTS = ("2공장 냉각수 펌프 누유, 긴급", "1공장 압축기 진동 높음", "2공장 모터 과열 긴급")
LATENCY_BUDGET_S = 2.0
HELD_MARK = "⏳"
FALLBACK_NOTE = "내장 색인"  # the card's degraded note for the embedded mirror
LLM_NOTE = "언어 모델"  # ... and for answers without the LLM
ERROR_NOTE = "처리 중 오류"  # ... and for a turn that failed (an error card, not an answer)
DEBUG = bool(os.environ.get("PMARK_DEPENDENCIES_DEBUG"))


@dataclass
class TimedStub(Stub):
    """The Bot Connector stub, also indexing the bot's new messages by the turn they answer."""

    replies: dict[str, list[tuple[float, Recorded]]] = field(default_factory=dict)

    async def _record(self, request: web.Request) -> Recorded:
        rec = await super()._record(request)
        body = rec.body
        # A PUT is the bot closing an earlier card (superseded); it carries the replyToId of the
        # turn that closed it but is not an answer to that turn.
        if (
            request.method == "POST"
            and request.path.startswith("/v3/conversations")
            and isinstance(body, dict)
            and body.get("type") == "message"
            and body.get("replyToId")
        ):
            self.replies.setdefault(str(body["replyToId"]), []).append((time.monotonic(), rec))
        return rec


@dataclass
class Turn:
    activity_id: str
    conversation: int
    posted: float
    window: str | None
    acked: bool = False
    redelivered: bool = False
    activity: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class SlackTurn:
    ts: str
    event_id: str
    acked: bool = False


@dataclass
class Thumb:
    answer_id: str
    itemno: str
    user: str
    vote: int
    window: str
    acked: bool = False


@dataclass
class Fault:
    """One injected fault and what was seen of it."""

    name: str
    checks: tuple[str, ...]
    started: float = 0.0
    ended: float = 0.0
    saw_outage: bool | None = None
    recovered_s: float | None = None
    survived: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    conversations: int
    faults: list[Fault]
    turns: list[Turn]
    thumbs: list[Thumb]
    answered_once: int = 0
    held_then_answered: int = 0
    duplicates: int = 0
    unacked: int = 0
    missing_turns: int = 0
    thumbs_stored: int = 0
    latency: dict[str, tuple[int, float]] = field(default_factory=dict)
    weaviate_used_again: bool = False
    llm_fallbacks: tuple[int, int] = (0, 0)
    spool_left: float = -1.0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    once: set[str] = field(default_factory=set)
    redelivered_after: tuple[int, int] = (0, 0)  # redelivered after recovery / not re-answered
    slack: tuple[int, int] = (0, 0)  # Slack events (x2) during the outage / answered once
    error_answers: int = 0  # turns whose one card is an error card
    terminate_held: int = 0  # turns of the pg_terminate_backend window that were not plain
    retried: float = 0.0  # operations retried on fresh connections (pmark_database_retries)
    outages_seen: float = 0.0  # pmark_database_outages_total at the end
    llm_cached: int = 0  # load reports the LLM answered (and cached) before the load
    slow: list[str] = field(default_factory=list)  # turns over budget, thumbs lost: explained

    @property
    def acked(self) -> int:
        return sum(1 for t in self.turns if t.acked)

    @property
    def missing(self) -> int:
        return self.missing_turns + (len(self.thumbs) - self.thumbs_stored)

    def ok(self) -> bool:
        """Every line at 100 % and nothing lost."""
        return (
            all(f.survived for f in self.faults)
            and all(f.saw_outage in (True, None) for f in self.faults)
            and all(f.recovered_s is not None for f in self.faults)
            and self.unacked == 0
            and self.answered_once == len(self.turns)
            and self.duplicates == 0
            and self.error_answers == 0
            and self.terminate_held == 0
            and self.thumbs_stored == len(self.thumbs)
            and self.missing == 0
            and all(n > 0 and worst <= LATENCY_BUDGET_S for n, worst in self.latency.values())
            and self.weaviate_used_again
            and self.redelivered_after[0] > 0
            and self.redelivered_after[0] == self.redelivered_after[1]
            and self.slack[0] > 0
            and self.slack[0] == self.slack[1]
            and self.spool_left == 0
            and not self.errors
        )

    def rows(self) -> list[str]:
        """The report table."""

        def row(name: str, sent: int, ok: int) -> str:
            pct = 100.0 * ok / sent if sent else 0.0
            return f"{name:<58}{sent:>7}{ok:>7}{pct:>8.1f}%{sent - ok:>6}"

        survived = sum(1 for f in self.faults if f.survived)
        during = [t for t in self.turns if t.window]
        redelivered = [t for t in self.turns if t.redelivered]
        lines = [
            f"{'':<58}{'sent':>7}{'ok':>7}{'ok %':>9}{'lost':>6}",
            row("faults injected / survived", len(self.faults), survived),
            row("turns sent / answered exactly once", len(self.turns), self.answered_once),
            row(
                "  posted during an outage / answered exactly once",
                len(during),
                sum(1 for t in during if t.activity_id in self.once),
            ),
            row(
                "  redelivered during an outage / answered once",
                len(redelivered),
                sum(1 for t in redelivered if t.activity_id in self.once),
            ),
            row("  held, redelivered after recovery / answered once", *self.redelivered_after),
            row("Slack events (x2) in the database outage / answered once", *self.slack),
            row("thumbs (x2) during outages / stored exactly once", len(self.thumbs),
                self.thumbs_stored),
            row("acknowledged turns and thumbs / missing after recovery",
                self.acked + len(self.thumbs), self.acked + len(self.thumbs) - self.missing),
            "",
            f"{'fault':<28}{'turns':>6}{'max 1st reply':>15}{'readiness saw it':>18}"
            f"{'ready again':>13}",
        ]  # fmt: skip
        for f in self.faults:
            n, worst = self.latency.get(f.name, (0, 0.0))
            saw = "n/a" if f.saw_outage is None else ("yes" if f.saw_outage else "NO")
            back = f"{f.recovered_s:.1f} s" if f.recovered_s is not None else "NO"
            flag = "" if n and worst <= LATENCY_BUDGET_S else "  > budget"
            lines.append(f"{f.name:<28}{n:>6}{worst:>13.2f} s{saw:>18}{back:>13}{flag}")
        parsed, total = self.llm_fallbacks
        lines += [
            "",
            f"'saved' notice then the answer after recovery: {self.held_then_answered} turns; "
            f"duplicate answers: {self.duplicates}; error cards: {self.error_answers}; "
            f"unacknowledged POSTs: {self.unacked}",
            f"pg_terminate_backend: {self.faults[0].extra.get('injected', 0)} backends killed, "
            f"{self.retried:.0f} operations retried on fresh connections, "
            f"{self.terminate_held} turns of its window not answered directly; database outages "
            f"detected: {self.outages_seen:.0f}; LLM answers cached before the load: "
            f"{self.llm_cached}/{len(TEXTS)}",
            f"Weaviate used again after its restart: {'yes' if self.weaviate_used_again else 'NO'};"
            f" new reports during the LLM outage answered by the catalog parser: {parsed}/{total}",
            f"spool left after recovery: {self.spool_left:.0f}; run {self.seconds:.0f} s "
            f"with {self.conversations} conversations; latency budget {LATENCY_BUDGET_S:.0f} s",
        ]
        lines += self.slow
        lines += [f"error: {e}" for e in self.errors]
        return lines


def _votes(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        own = [node] if node.get("verb") == "pmark.vote" else []
        return own + [v for x in node.values() for v in _votes(x)]
    if isinstance(node, list):
        return [v for x in node for v in _votes(x)]
    return []


def _kind(rec: Recorded) -> str:
    body = rec.body if isinstance(rec.body, dict) else {}
    if body.get("attachments"):
        return "card"
    if str(body.get("text") or "").startswith(HELD_MARK):
        return "notice"
    return "other"


class Scenario:
    """The load, the readiness poller and the fault sequence against one `pmark serve`."""

    def __init__(
        self,
        serve: PmarkServe,
        stub: TimedStub,
        pg: PrivatePostgres,
        weaviate: PrivateWeaviate,
        llm: PrivateLLM,
        conversations: int,
        think: float = 0.4,
        hold: float = 10.0,
        log: Callable[[str], None] = print,
    ) -> None:
        self.serve = serve
        self.stub = stub
        self.pg = pg
        self.weaviate = weaviate
        self.llm = llm
        self.n = conversations
        self.think = think
        self.hold = hold
        self.log = log
        self.turns: list[Turn] = []
        self.thumbs: list[Thumb] = []
        self.window: str | None = None
        self.unique = False
        self.stop = asyncio.Event()
        self.ready_log: list[tuple[float, int, dict[str, bool]]] = []
        self.http: aiohttp.ClientSession | None = None
        self.last_card: dict[int, Recorded] = {}
        self._redelivered: set[tuple[int, str]] = set()
        self.errors: list[str] = []
        self.slack_turns: list[SlackTurn] = []
        self.after: list[Turn] = []
        self.metrics = ""
        self._thumbed: set[tuple[int, str]] = set()

    # Load ------------------------------------------------------------------------------------

    async def _post(self, activity: dict[str, Any]) -> int:
        assert self.http is not None
        token = self.stub.channel_token(self.stub.base + "/")
        try:
            async with self.http.post(
                f"{self.serve.base}/api/messages",
                json=activity,
                headers={"Authorization": f"Bearer {token}"},
                timeout=aiohttp.ClientTimeout(total=30),
            ) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, TimeoutError):
            return 0

    async def _conversation(self, n: int) -> None:
        try:
            await self._talk(n)
        except Exception as exc:
            self.errors.append(f"conversation {n} crashed: {exc!r}")
            raise

    async def _talk(self, n: int) -> None:
        conv = f"19:dep-{n}-{uuid.uuid4().hex[:6]}@thread.tacv2"
        step = 0
        while not self.stop.is_set():
            window = self.window
            text = TEXTS[(n + step) % len(TEXTS)]
            if self.unique:
                text = f"{text} 새 건 {n}-{step}"
            activity = teams_message(
                self.stub.base + "/",
                text,
                conversation=conv,
                chain=f"c{n}",
                user=f"29:dep-{n}",
                aad=f"aad-dep-{n}",
            )
            turn = Turn(activity["id"], n, time.monotonic(), window, activity=activity)
            self.turns.append(turn)
            turn.acked = await self._post(activity) == 200
            if window and (n, window) not in self._redelivered:
                # Teams redelivers an activity it got no timely 200 for: the same id again.
                self._redelivered.add((n, window))
                turn.redelivered = True
                if await self._post(activity) != 200:
                    turn.acked = False
            deadline = time.monotonic() + 30
            while not self.stub.replies.get(turn.activity_id) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            if DEBUG:
                got = self.stub.replies.get(turn.activity_id, [])
                self.log(
                    f"{time.strftime('%H:%M:%S')} conv {n} turn {step} window {window} "
                    f"acked {turn.acked} first "
                    f"{(got[0][0] - turn.posted) if got else None} {[_kind(r) for _, r in got]}"
                )
            cards = [
                r for _, r in self.stub.replies.get(turn.activity_id, []) if _kind(r) == "card"
            ]
            if cards:
                self.last_card[n] = cards[0]
            if window and (n, window) not in self._thumbed:
                await self._thumb(n, window)
            step += 1
            await asyncio.sleep(self.think)

    async def _thumb(self, n: int, window: str) -> None:
        card = self.last_card.get(n)
        found = _votes(card.body.get("attachments")) if card is not None else []
        votes = [v for v in found if isinstance(v.get("data"), dict)]  # the buttons
        if card is None or not votes:
            return
        self._thumbed.add((n, window))
        data = votes[len(self._thumbed) % len(votes)]["data"]
        user = f"aad-thumb-{n}-{len(self.thumbs)}"
        thumb = Thumb(str(data["answer_id"]), str(data["itemno"]), user, int(data["vote"]), window)
        self.thumbs.append(thumb)
        value = {"action": {"type": "Action.Execute", "verb": "pmark.vote", "data": data}}
        invoke = teams_invoke(
            self.stub.base + "/",
            "adaptiveCard/action",
            value,
            aad=user,
            conversation=card.body["conversation"]["id"],
        )
        started = time.monotonic()
        statuses = [await self._post(invoke) for _ in range(2)]
        thumb.acked = all(s == 200 for s in statuses)
        if DEBUG:
            self.log(f"thumb {user} {statuses} in {time.monotonic() - started:.2f} s")

    async def _slack(self, text: str) -> None:
        """An app_mention, delivered twice (Slack retries when the 3 s ack is late)."""
        assert self.http is not None
        ts = f"{time.time():.6f}"
        event = {
            "type": "app_mention",
            "user": "UDEPS",
            "text": f"<@UPMARKBOT> {text}",
            "ts": ts,
            "channel": "CDEPS",
            "event_ts": ts,
        }
        turn = SlackTurn(ts, "Ev" + uuid.uuid4().hex[:10].upper())
        self.slack_turns.append(turn)
        body = slack_event(event, turn.event_id)
        statuses = []
        for _ in range(2):
            headers = {"Content-Type": "application/json", **slack_headers(body)}
            async with self.http.post(
                f"{self.serve.base}/slack/events", data=body.encode(), headers=headers
            ) as resp:
                statuses.append(resp.status)
        turn.acked = all(s == 200 for s in statuses)

    async def _redeliver_held(self, window: str) -> None:
        """After recovery, Teams redelivers some activities that were held in the outage."""
        held = [t for t in self.turns if t.window == window and t.acked][: self.n]
        self.after.extend(held)
        for delay in (0.0, 2.0):  # while the replay may still run, and after it
            await asyncio.sleep(delay)
            for turn in held:
                await self._post(turn.activity)

    async def _poll_ready(self) -> None:
        assert self.http is not None
        while not self.stop.is_set():
            at = time.monotonic()
            try:
                async with self.http.get(
                    f"{self.serve.base}/readyz", timeout=aiohttp.ClientTimeout(total=10)
                ) as resp:
                    body = await resp.json()
                    checks = {k: bool(v.get("ok")) for k, v in body.get("checks", {}).items()}
                    if DEBUG and (not self.ready_log or self.ready_log[-1][2] != checks):
                        failing = sorted(k for k, ok in checks.items() if not ok)
                        self.log(f"{time.strftime('%H:%M:%S')} readiness failing: {failing}")
                    self.ready_log.append((at, resp.status, checks))
            except (aiohttp.ClientError, TimeoutError, ValueError):
                self.ready_log.append((at, 0, {}))
            await asyncio.sleep(0.25)

    async def _healthy(self) -> bool:
        assert self.http is not None
        try:
            async with self.http.get(f"{self.serve.base}/healthz") as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    async def _ready_after(self, since: float, timeout: float = 90.0) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, status, _ in self.ready_log:
                if at >= since and status == 200:
                    return at - since
            await asyncio.sleep(0.25)
        return None

    # Faults ----------------------------------------------------------------------------------

    async def _fault(
        self,
        fault: Fault,
        inject: Callable[[], Any],
        restore: Callable[[], Any] | None,
        hold: float,
        during: Callable[[], Awaitable[None]] | None = None,
        after: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.log(f"{time.strftime('%H:%M:%S')} -- {fault.name}")
        fault.started = time.monotonic()
        self.window = fault.name
        result = await asyncio.to_thread(inject)
        if result is not None:
            fault.extra["injected"] = result
        if during is not None:
            await asyncio.sleep(1.0)
            await during()
            await asyncio.sleep(max(0.0, hold - 1.0))
        else:
            await asyncio.sleep(hold)
        if restore is not None:
            await asyncio.to_thread(restore)
        fault.ended = time.monotonic()
        self.window = None
        if after is not None:
            await after()
        if fault.checks:
            fault.saw_outage = any(
                fault.started <= at <= fault.ended + 1.0
                and any(checks.get(c) is False for c in fault.checks)
                for at, _, checks in self.ready_log
            )
        fault.recovered_s = await self._ready_after(fault.ended)
        fault.survived = (
            self.serve.proc is not None
            and self.serve.proc.returncode is None
            and await self._healthy()
            and fault.recovered_s is not None
        )
        self.log(
            f"   saw outage {fault.saw_outage}, ready again after {fault.recovered_s} s, "
            f"injected {fault.extra.get('injected')}"
        )
        await asyncio.sleep(3.0)

    async def run(self, warmup: float = 6.0) -> Report:
        started = time.monotonic()
        faults = [
            Fault("pg_terminate_backend", ()),
            Fault("PostgreSQL stopped 10 s", ("database", "checkpointer")),
            Fault("Weaviate killed", ("search",)),
            Fault("LLM killed", ("llm",)),
        ]
        errors = self.errors
        async with aiohttp.ClientSession() as http:
            self.http = http
            poller = asyncio.create_task(self._poll_ready())
            load = [asyncio.create_task(self._conversation(n)) for n in range(self.n)]
            try:
                await asyncio.sleep(warmup)
                await self._fault(faults[0], self.pg.terminate_backends, None, 5.0)
                await self._fault(
                    faults[1],
                    self.pg.stop,
                    self.pg.start,
                    self.hold,
                    during=lambda: self._slack(TEXTS[0]),
                    after=lambda: self._redeliver_held(faults[1].name),
                )
                await self._fault(faults[2], self.weaviate.kill, self.weaviate.start, 8.0)
                weaviate_back = time.monotonic()
                self.unique = True
                await self._fault(faults[3], self.llm.kill, self.llm.start, 8.0)
                self.unique = False
                await asyncio.sleep(3.0)
            finally:
                self.stop.set()
                await asyncio.gather(*load, return_exceptions=True)
            spool_left = await self._drain()
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
        report = self._report(faults, weaviate_back, spool_left, errors)
        report.seconds = time.monotonic() - started
        return report

    async def _drain(self, timeout: float = 120.0) -> float:
        """Wait until every acknowledged turn has its answer card and the spool is empty."""
        assert self.http is not None
        deadline = time.monotonic() + timeout
        left = -1.0
        while time.monotonic() < deadline:
            try:
                async with self.http.get(f"{self.serve.base}/metrics") as resp:
                    self.metrics = await resp.text()
                    found = re.search(r"^pmark_spooled_items (\S+)$", self.metrics, re.M)
                    left = float(found.group(1)) if found else -1.0
            except aiohttp.ClientError:
                left = -1.0
            waiting = [
                t
                for t in self.turns
                if t.acked
                and not any(_kind(r) == "card" for _, r in self.stub.replies.get(t.activity_id, []))
            ]
            slack_waiting = [
                s for s in self.slack_turns if s.acked and not self._slack_replies(s)[0]
            ]
            if left == 0 and not waiting and not slack_waiting:
                await asyncio.sleep(1.0)  # late duplicates would show up now
                return left
            await asyncio.sleep(0.5)
        return left

    def _slack_replies(self, turn: SlackTurn) -> tuple[int, int, int]:
        """(answers, 'saved' notices, others) posted in the event's thread."""
        posts = [
            r.body
            for r in self.stub.slack("chat.postMessage")
            if isinstance(r.body, dict) and r.body.get("thread_ts") == turn.ts
        ]
        answers = sum(1 for b in posts if b.get("blocks"))
        notices = sum(
            1 for b in posts if not b.get("blocks") and str(b.get("text")).startswith(HELD_MARK)
        )
        return answers, notices, len(posts) - answers - notices

    # Report ----------------------------------------------------------------------------------

    def _report(
        self, faults: list[Fault], weaviate_back: float, spool_left: float, errors: list[str]
    ) -> Report:
        report = Report(self.n, faults, self.turns, self.thumbs, errors=errors)
        report.spool_left = spool_left
        report.retried = sum(
            float(v)
            for v in re.findall(
                r"^pmark_database_retries_total\{[^}]*\} (\S+)$", self.metrics, re.M
            )
        )
        outages = re.search(r"^pmark_database_outages_total (\S+)$", self.metrics, re.M)
        report.outages_seen = float(outages.group(1)) if outages else 0.0
        report.unacked = sum(1 for t in self.turns if not t.acked) + sum(
            1 for t in self.thumbs if not t.acked
        )
        firsts: dict[str, float] = {}
        for turn in self.turns:
            replies = self.stub.replies.get(turn.activity_id, [])
            kinds = [_kind(r) for _, r in replies]
            cards, notices, others = (kinds.count(k) for k in ("card", "notice", "other"))
            if replies:
                firsts[turn.activity_id] = min(at for at, _ in replies) - turn.posted
            if cards > 1:
                report.duplicates += 1
            if not turn.acked:
                continue
            if cards == 0:
                report.missing_turns += 1
            elif cards == 1 and notices <= 1 and others == 0:
                report.answered_once += 1
                report.once.add(turn.activity_id)
                if notices == 1:
                    report.held_then_answered += 1
            card = next((r for _, r in replies if _kind(r) == "card"), None)
            if card is not None and ERROR_NOTE in json.dumps(card.body, ensure_ascii=False):
                report.error_answers += 1
            if turn.window == faults[0].name and kinds != ["card"]:
                report.terminate_held += 1
        for fault in faults:
            inside = [t for t in self.turns if t.window == fault.name]
            lat = [firsts.get(t.activity_id, float("inf")) for t in inside]
            report.latency[fault.name] = (len(inside), max(lat) if lat else 0.0)
            for t in sorted(inside, key=lambda t: -firsts.get(t.activity_id, float("inf")))[:3]:
                first = firsts.get(t.activity_id, float("inf"))
                if first > LATENCY_BUDGET_S:
                    kinds = [_kind(r) for _, r in self.stub.replies.get(t.activity_id, [])]
                    report.slow.append(
                        f"over budget: {fault.name}: conversation {t.conversation} posted "
                        f"{t.posted - fault.started:.2f} s after the injection, first reply "
                        f"after {first:.2f} s, replies {kinds}"
                    )
        # Weaviate again: an answer to a turn posted once search was ready again, without the
        # mirror's note.
        wv = faults[2]
        back_at = wv.ended + (wv.recovered_s or 0.0)
        later = [t for t in self.turns if back_at + 1.0 <= t.posted and t.window is None]
        report.weaviate_used_again = any(
            _kind(r) == "card" and FALLBACK_NOTE not in json.dumps(r.body, ensure_ascii=False)
            for t in later
            for _, r in self.stub.replies.get(t.activity_id, [])
        )
        llm_turns = [t for t in self.turns if t.window == faults[3].name]
        parsed = sum(
            1
            for t in llm_turns
            if any(
                _kind(r) == "card" and LLM_NOTE in json.dumps(r.body, ensure_ascii=False)
                for _, r in self.stub.replies.get(t.activity_id, [])
            )
        )
        report.llm_fallbacks = (parsed, len(llm_turns))
        report.redelivered_after = (
            len(self.after),
            sum(
                1
                for t in self.after
                if [_kind(r) for _, r in self.stub.replies.get(t.activity_id, [])].count("card")
                == 1
            ),
        )
        report.slack = (
            len(self.slack_turns),
            sum(
                1
                for s in self.slack_turns
                if s.acked
                and self._slack_replies(s)[0] == 1
                and self._slack_replies(s)[2] == 0
                and self._slack_replies(s)[1] <= 1
            ),
        )
        rows = self.pg.query(APP_DB, "select answer_id, itemno, user_id, vote from feedback")
        stored = {(a, i, u): v for a, i, u, v in rows}
        for t in self.thumbs:
            got = stored.get((t.answer_id, t.itemno, t.user))
            if t.acked and got == t.vote:
                report.thumbs_stored += 1
            else:
                others = {k: v for k, v in stored.items() if k[2] == t.user}
                report.slow.append(
                    f"thumb not stored: {t} acked {t.acked}, stored {got}, rows of that user "
                    f"{others}"
                )
        return report


async def run(
    conversations: int,
    *,
    hold: float = 10.0,
    llm_timeout: float = 30.0,
    keep: bool = False,
    log: Callable[[str], None] = print,
) -> Report:
    """Start the private servers and `pmark serve`, run the scenario, tear everything down."""
    root = Path(tempfile.mkdtemp(prefix="pmark-deps-"))
    stub = TimedStub()
    await stub.start()
    pg: PrivatePostgres | None = None
    weaviate: PrivateWeaviate | None = None
    llm: PrivateLLM | None = None
    serve: PmarkServe | None = None
    try:
        log("starting private PostgreSQL, Weaviate and LLM servers")
        pg, weaviate, llm = await asyncio.gather(
            asyncio.to_thread(PrivatePostgres.create),
            asyncio.to_thread(PrivateWeaviate.create, root / "weaviate"),
            asyncio.to_thread(PrivateLLM.create, root / "llm"),
        )
        serve = PmarkServe(
            root / "data",
            stub,
            pg=pg,
            weaviate=weaviate,
            llm=llm,
            extra={"PMARK_LLM_TIMEOUT": str(llm_timeout)},
        )
        log("importing the plant")
        await asyncio.to_thread(import_plant, serve, root / "csv")
        log("starting pmark serve")
        await serve.start()
        log("warming the LLM's answer cache on the load's reports")
        cached = await _warm_llm_cache(serve, stub)
        log(f"{cached}/{len(TEXTS)} reports answered by the LLM and cached")
        scenario = Scenario(serve, stub, pg, weaviate, llm, conversations, hold=hold, log=log)
        report = await scenario.run()
        report.llm_cached = cached
        code = await serve.stop()
        if code != 0:
            report.errors.append(f"pmark serve exited with {code}")
        log_text = serve.tail(1_000_000)
        if "Traceback" in log_text:
            at = log_text.index("Traceback")
            start = log_text.rfind("\n", 0, max(0, at - 300)) + 1
            report.errors.append(
                "a traceback in the pmark serve log:\n" + log_text[start : at + 3000]
            )
        return report
    finally:
        if serve is not None:
            await serve.stop()
        for server in (llm, weaviate):
            if server is not None:
                await asyncio.to_thread(server.kill)
        if pg is not None:
            await asyncio.to_thread(pg.destroy)
        await stub.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            log(f"kept {root}")


def import_plant(serve: PmarkServe, folder: Path) -> None:
    """The generated plant into the servers `serve` is configured with (in this process)."""
    from adapters.settings import Settings
    from agent.context import PMark

    catalog, history = write_plant(folder)
    env = serve.settings_env()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=serve.data_dir,
        database_url=env.get("PMARK_DATABASE_URL"),
        postgres_url=env.get("PMARK_POSTGRES_URL"),
        weaviate_url=env.get("PMARK_WEAVIATE_URL"),
        weaviate_grpc_port=int(env.get("PMARK_WEAVIATE_GRPC_PORT", "50051")),
        llm_url=None,
    )
    ctx = PMark(settings)
    ctx.import_catalog(catalog, replace=True)
    ctx.import_notifications(history)
    ctx.index.close()
    ctx.repo.close()


async def _warm_llm_cache(serve: PmarkServe, stub: TimedStub, attempts: int = 3) -> int:
    """Turns on the load's three reports until the LLM has parsed and written each once.

    The CPU-only SmolLM2 needs 5-15 s for an answer on a small machine; the LLM client caches
    answers by request, so afterwards the load's repeated reports cost the LLM nothing and
    the latencies measured are the dependencies'. Returns how many reports are cached.
    """
    cached = 0
    async with aiohttp.ClientSession() as http:
        for i, text in enumerate(TEXTS):
            for attempt in range(attempts):
                activity = teams_message(stub.base + "/", text, chain=f"warm{i}-{attempt}")
                token = stub.channel_token(stub.base + "/")
                async with http.post(
                    f"{serve.base}/api/messages",
                    json=activity,
                    headers={"Authorization": f"Bearer {token}"},
                ) as resp:
                    await resp.read()
                deadline = time.monotonic() + 90
                while not stub.replies.get(activity["id"]) and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                replies = stub.replies.get(activity["id"], [])
                if replies and LLM_NOTE not in json.dumps(replies[0][1].body, ensure_ascii=False):
                    cached += 1
                    break
    return cached
