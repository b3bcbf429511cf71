"""OpenTelemetry traces of a Teams turn: one span per turn, children per graph node, search
backend call, LLM call and channel post, all carrying the turn id; and the same spans reaching
a real OTLP/HTTP receiver on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters import tracing
from agent.context import PMark
from bot.app import build_app
from tests.bot.conftest import Running, endpoints_for, start
from tests.bot.support import Stub, teams_message


@pytest.fixture(scope="module")
async def llm_model(llm_url: str) -> str:
    async with httpx.AsyncClient() as http:
        return str((await http.get(f"{llm_url.rstrip('/')}/models")).json()["data"][0]["id"])


@pytest.fixture(scope="module")
def llm_url() -> str:
    from tests.conftest import service_url

    return service_url("PMARK_TEST_LLM_URL", "llama.cpp server")


@pytest.fixture(scope="module")
async def served_llm(
    plant: PMark, stub: Stub, llm_url: str, llm_model: str
) -> AsyncIterator[Running]:
    """The app on the session's plant, with the real LLM server for parsing and answers."""
    settings = plant.settings.model_copy(
        update={"llm_url": llm_url, "llm_model": llm_model, "llm_timeout": 60.0}
    )
    app = build_app(settings, ctx=PMark(settings), endpoints=endpoints_for(stub))
    runner, running = await start(app, stub)
    yield running
    await running.http.close()
    await runner.cleanup()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.install(exporter, batch=False)
    yield exporter
    tracing.shutdown()


async def _teams_turn(served: Running, text: str, chain: str) -> dict[str, Any]:
    stub = served.stub
    before = len(stub.connector("message"))
    resp = await served.post_activity(teams_message(served.service_url, text, chain=chain))
    assert resp.status == 200
    replies = await stub.wait_for(lambda: stub.connector("message")[before:], timeout=120)
    return dict(replies[0].body)


def _tree(finished: tuple[ReadableSpan, ...]) -> tuple[ReadableSpan, dict[int, ReadableSpan]]:
    turns = [s for s in finished if s.name == "pmark.turn"]
    assert len(turns) == 1, [s.name for s in finished]
    by_id = {s.context.span_id: s for s in finished}
    return turns[0], by_id


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


async def _traced_turn(
    served: Running, spans: InMemorySpanExporter, chain: str
) -> tuple[ReadableSpan, dict[int, ReadableSpan], list[ReadableSpan]]:
    """One Teams turn's spans: its root, every span by id, and the spans under the root."""
    await _teams_turn(served, "2공장 냉각수 펌프 누유, 긴급", chain=chain)
    # The reply was posted inside the turn's span, which ends right after.
    await served.stub.wait_for(
        lambda: [s for s in spans.get_finished_spans() if s.name == "pmark.turn"]
    )
    turn, by_id = _tree(tuple(spans.get_finished_spans()))
    inside = [s for s in spans.get_finished_spans() if s is not turn]
    return turn, by_id, inside


async def test_a_teams_turn_is_one_trace(served: Running, spans: InMemorySpanExporter) -> None:
    turn, by_id, inside = await _traced_turn(served, spans, "trace-1")
    turn_id = turn.attributes["pmark.turn_id"]
    assert turn.attributes["pmark.channel"] == "teams"
    assert turn.parent is None
    # Every span of the turn is in its trace, under it, and names the turn like the logs do.
    assert {s.context.trace_id for s in inside} == {turn.context.trace_id}
    assert all("pmark.turn" in _ancestors(s, by_id) for s in inside)
    assert {s.attributes.get("pmark.turn_id") for s in inside} == {turn_id}
    # One child per graph node, directly under the turn.
    nodes = [s for s in inside if s.name.startswith("pmark.node ")]
    assert [s.parent.span_id for s in nodes if s.parent] == [turn.context.span_id] * len(nodes)
    names = [s.attributes["pmark.node"] for s in nodes]
    assert len(names) == len(set(names))
    assert {"validate", "parse", "normalize", "retrieve", "recommend", "respond"} <= set(names)
    # Search backend calls under retrieve.
    searches = [s for s in inside if s.name == "pmark.search embedded"]
    assert searches and all(_ancestors(s, by_id)[0] == "pmark.node retrieve" for s in searches)
    assert all(s.attributes["pmark.search.backend"] == "embedded" for s in searches)
    # The reply to the channel, after the graph finished.
    (post,) = [s for s in inside if s.name == "pmark.post teams"]
    assert post.parent is not None and post.parent.span_id == turn.context.span_id
    assert post.start_time >= max(s.end_time for s in nodes)  # type: ignore[operator]
    # No LLM configured here: no LLM span.
    assert not [s for s in inside if s.name.startswith("pmark.llm")]


@pytest.mark.llm
async def test_llm_calls_are_spans_of_the_node_that_made_them(
    served_llm: Running, spans: InMemorySpanExporter
) -> None:
    turn, by_id, inside = await _traced_turn(served_llm, spans, "trace-llm")
    llm = [s for s in inside if s.name.startswith("pmark.llm ")]
    callers = {_ancestors(s, by_id)[0] for s in llm}
    # parse always asks the LLM; respond does when the LLM did not fail before it.
    assert "pmark.node parse" in callers and callers <= {"pmark.node parse", "pmark.node respond"}
    assert all(s.attributes["gen_ai.request.model"] for s in llm)
    assert {s.attributes["pmark.turn_id"] for s in llm} == {turn.attributes["pmark.turn_id"]}


async def test_proactive_posts_are_spans_of_their_own(
    served: Running, spans: InMemorySpanExporter
) -> None:
    from adapters.channels import Outbound, SlackChannel
    from tests.bot.support import BOT_TOKEN

    channel = SlackChannel(BOT_TOKEN, f"{served.stub.base}/api/")
    try:
        await channel.post("C123", Outbound(text="digest"))
    finally:
        await channel.aclose()
    (post,) = [s for s in spans.get_finished_spans() if s.name == "pmark.post slack"]
    assert post.attributes["pmark.channel"] == "slack" and "pmark.turn_id" not in post.attributes


async def _otlp_receiver() -> tuple[web.AppRunner, str, list[ExportTraceServiceRequest]]:
    """A minimal OTLP/HTTP traces receiver (protobuf), as a collector's otlphttp receiver."""
    received: list[ExportTraceServiceRequest] = []

    async def traces(request: web.Request) -> web.Response:
        assert request.content_type == "application/x-protobuf"
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        received.append(message)
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/v1/traces", received


async def test_spans_reach_an_otlp_receiver(served: Running, plant: PMark) -> None:
    runner, endpoint, received = await _otlp_receiver()
    settings = plant.settings.model_copy(
        update={"otel_enabled": True, "otel_endpoint": endpoint, "otel_service_name": "pmark-t"}
    )
    try:
        assert tracing.configure(settings)
        await _teams_turn(served, "2공장 냉각수 펌프 누유, 긴급", chain="trace-otlp")

        # The turn's span ends just after its reply; then the exporter's thread sends it (to
        # this event loop: so flush from another thread).
        for _ in range(100):
            assert await asyncio.to_thread(tracing.flush, 10_000)
            if any(s.name == "pmark.turn" for s in _exported(received)):
                break
            await asyncio.sleep(0.1)
    finally:
        tracing.shutdown()
        await runner.cleanup()
    resource_spans = [rs for message in received for rs in message.resource_spans]
    assert resource_spans
    services = {
        a.value.string_value
        for rs in resource_spans
        for a in rs.resource.attributes
        if a.key == "service.name"
    }
    assert services == {"pmark-t"}
    exported = _exported(received)
    names = {s.name for s in exported}
    assert {
        "pmark.turn",
        "pmark.node retrieve",
        "pmark.search embedded",
        "pmark.post teams",
    } <= names
    turn_ids = {
        a.value.string_value for s in exported for a in s.attributes if a.key == "pmark.turn_id"
    }
    assert len(turn_ids) == 1
    assert len({s.trace_id for s in exported}) == 1


def _exported(received: list[ExportTraceServiceRequest]) -> list[Any]:
    return [
        s for m in received for rs in m.resource_spans for ss in rs.scope_spans for s in ss.spans
    ]


def test_tracing_is_off_by_default() -> None:
    from adapters.settings import Settings

    assert Settings().otel_enabled is False
    assert not tracing.enabled()
    with tracing.span("anything") as current:
        assert current is None
