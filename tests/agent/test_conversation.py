"""Multi-turn conversations on the checkpointed graph (SQLite and real PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid

from agent.runner import Agent


def _codes(response: dict) -> dict[str, str | None]:
    view = response["notification"] or {}
    return {
        f: (view.get(f) or {}).get("code")
        for f in ("location", "equipment", "failure_mode", "priority")
    }


def _thread() -> str:
    return f"test:{uuid.uuid4().hex}"


async def test_korean_report_is_built_over_turns(agent: Agent) -> None:
    thread = _thread()
    first = await agent.turn(thread, "펌프 누유")
    assert first["kind"] == "question"
    assert set(first["fields"]) == {"location", "priority"}
    assert "어느" in first["reply"]
    assert {c["code"] for c in first["choices"]["location"]} == {"SEO", "BUS"}
    second = await agent.turn(thread, "부산공장 긴급")
    assert second["kind"] == "answer"
    assert _codes(second) == {
        "location": "BUS",
        "equipment": "PMP",
        "failure_mode": "LEK",
        "priority": "1",
    }
    recs = second["recommendations"]
    assert recs and all(r["score"] >= recs[-1]["score"] for r in recs)
    assert recs[0]["equipment"] in ("PMP", "PMP-FW") and recs[0]["failure_mode"] == "LEK"
    assert "접수 초안" in second["reply"]


async def test_english_report_in_one_message_is_answered_in_english(agent: Agent) -> None:
    response = await agent.turn(_thread(), "Seoul plant compressor vibrating badly, urgent")
    assert response["kind"] == "answer"
    assert _codes(response) == {
        "location": "SEO",
        "equipment": "CMP",
        "failure_mode": "VIB",
        "priority": "1",
    }
    assert "Draft notification" in response["reply"]
    assert response["recommendations"][0]["equipment"] == "CMP"


async def test_correction_new_report_and_followup(agent: Agent) -> None:
    thread = _thread()
    await agent.turn(thread, "서울공장 모터 과열 보통")
    corrected = await agent.turn(thread, "아니 부산공장")
    assert _codes(corrected)["location"] == "BUS"
    assert _codes(corrected)["equipment"] == "MTR"
    detail = await agent.turn(thread, "두 번째 건 자세히")
    assert detail["kind"] == "detail"
    assert detail["recommendations"][0]["itemno"] == corrected["recommendations"][1]["itemno"]
    fresh = await agent.turn(thread, "새 건 busan conveyor noisy low priority")
    assert _codes(fresh) == {
        "location": "BUS",
        "equipment": "CNV",
        "failure_mode": "NOS",
        "priority": "4",
    }


async def test_a_field_is_asked_once_then_the_answer_comes(agent: Agent) -> None:
    thread = _thread()
    first = await agent.turn(thread, "compressor overheating seoul")
    assert first["kind"] == "question" and first["fields"] == ["priority"]
    second = await agent.turn(thread, "don't know")
    assert second["kind"] == "answer"
    assert second["missing"] == ["priority"]
    assert "Still missing" in second["reply"]


async def test_interleaved_conversations_never_mix(agent: Agent) -> None:
    a, b = _thread(), _thread()
    qa, qb = await asyncio.gather(agent.turn(a, "펌프 누유"), agent.turn(b, "motor overheating"))
    assert qa["kind"] == qb["kind"] == "question"
    rb, ra = await asyncio.gather(agent.turn(b, "seoul plant, high"), agent.turn(a, "부산 긴급"))
    assert _codes(rb) == {
        "location": "SEO",
        "equipment": "MTR",
        "failure_mode": "HOT",
        "priority": "2",
    }
    assert _codes(ra) == {
        "location": "BUS",
        "equipment": "PMP",
        "failure_mode": "LEK",
        "priority": "1",
    }


async def test_concurrent_messages_on_one_thread_are_serialized(agent: Agent) -> None:
    thread = _thread()
    first, second = await asyncio.gather(
        agent.turn(thread, "펌프 누유"), agent.turn(thread, "부산공장 긴급")
    )
    assert first["kind"] == "question"
    assert second["kind"] == "answer"
    state = await agent.state(thread)
    assert state["notification"]["location"]["code"] == "BUS"


async def test_empty_and_hostile_text_get_a_safe_reply(agent: Agent) -> None:
    empty = await agent.turn(_thread(), "   \x00\x07 ")
    assert empty["kind"] == "prompt"
    long = await agent.turn(_thread(), "펌프 누유 " + "가" * 10_000)
    assert long["kind"] in ("question", "answer")
    sql = await agent.turn(_thread(), "'; DROP TABLE notifications; -- 부산 펌프 누유 긴급")
    assert sql["kind"] == "answer"
    assert _codes(sql)["equipment"] == "PMP"


async def test_timings_cover_every_node_of_the_turn(agent: Agent) -> None:
    response = await agent.turn(_thread(), "부산 펌프 누유 긴급")
    assert {
        "validate",
        "parse",
        "normalize",
        "retrieve",
        "recommend",
        "respond",
        "quality_check",
    } <= set(response["timings"])


async def test_a_complete_report_is_answered_in_one_superstep(agent: Agent) -> None:
    config = {"configurable": {"thread_id": _thread()}}
    payload = {"user_input": "부산공장 펌프 누유 긴급", "user_id": "u", "turn_id": "t-one"}
    steps = [
        next(iter(update))
        async for update in agent.graph.astream(payload, config, stream_mode="updates")
    ]
    assert steps == ["understand"]
    values = (await agent.graph.aget_state(config)).values
    assert values["response"]["kind"] == "answer" and values["response"]["recommendations"]
    assert {"parse", "retrieve", "respond"} <= set(values["timings"])
    # One that needs a question still pauses at clarify, and is answered by `answer`.
    config = {"configurable": {"thread_id": _thread()}}
    payload = {"user_input": "펌프 누유", "user_id": "u", "turn_id": "t-two"}
    steps = [
        next(iter(update))
        async for update in agent.graph.astream(payload, config, stream_mode="updates")
    ]
    assert steps == ["understand", "__interrupt__"]
