"""Conversations that outlive a process: a second `pmark chat`, and a crash between nodes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from adapters.settings import Settings
from agent.context import PMark
from agent.service import open_agent
from tests.agent.conftest import env_for

PMARK = str(Path(sys.executable).with_name("pmark"))


def _chat(thread: str, text: str, env: dict[str, str]) -> list[dict]:
    out = subprocess.run(
        [PMARK, "chat", "--thread", thread, "--json"],
        input=text,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def test_chat_continues_in_a_new_process(loaded_dir: Path, checkpoint_url: str | None) -> None:
    env = env_for(loaded_dir, checkpoint_url)
    thread = f"t-{uuid.uuid4().hex[:8]}"
    first = _chat(thread, "펌프 누유\n", env)
    assert first[-1]["kind"] == "question"
    assert first[-1]["notification"]["equipment"] == "PMP"
    second = _chat(thread, "부산공장 긴급\n", env)
    last = second[-1]
    assert last["thread"] == thread
    assert {
        k: last["notification"][k] for k in ("location", "equipment", "failure_mode", "priority")
    } == {"location": "BUS", "equipment": "PMP", "failure_mode": "LEK", "priority": "1"}
    assert last["missing"] == []
    assert last["recommendations"] and last["recommendations"][0]["itemno"].startswith("T")


CRASHING_TURN = textwrap.dedent(
    """
    import asyncio, sys, time
    from adapters.settings import Settings
    from agent.context import PMark
    from agent.service import open_agent

    async def main():
        async with open_agent(PMark(Settings())) as agent:
            await agent.turn(sys.argv[1], "펌프 누유")  # a question: the turn before
            def stuck(*args, **kwargs):
                print("in-retrieve", flush=True)
                time.sleep(600)
            agent.deps.recommender.candidates = stuck
            await agent.turn(sys.argv[1], "부산공장 긴급", turn_id="crashed-turn")

    asyncio.run(main())
    """
)


def _crash_in_retrieve(thread: str, env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING_TURN, thread], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    deadline = time.time() + 90
    line = ""
    while time.time() < deadline and "in-retrieve" not in line:
        line = proc.stdout.readline()
    assert "in-retrieve" in line
    time.sleep(0.5)  # let whatever the turn writes before retrieve land
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


async def test_a_turn_cut_short_leaves_the_conversation_as_before_and_runs_again(
    loaded_dir: Path, checkpoint_url: str | None
) -> None:
    """The default durability: a turn's state is stored whole or not at all."""
    if checkpoint_url is None:
        pytest.skip("the cross-process crash test runs on PostgreSQL checkpoints")
    thread = f"test:crash-{uuid.uuid4().hex[:8]}"
    _crash_in_retrieve(thread, env_for(loaded_dir, checkpoint_url))

    settings = Settings(data_dir=loaded_dir, postgres_url=checkpoint_url)
    async with open_agent(PMark(settings)) as agent:
        state = await agent.state(thread)
        assert state["notification"]["equipment"]["code"] == "PMP"
        assert state["notification"]["location"]["code"] is None  # the crashed turn's words
        assert await agent.resume_pending(thread) is None  # nothing half-done to finish
        again = await agent.turn(thread, "부산공장 긴급", turn_id="crashed-turn")  # redelivered
        assert again["kind"] == "answer" and again["recommendations"]
        assert again["notification"]["location"]["code"] == "BUS"


async def test_with_node_durability_a_crash_between_nodes_resumes_from_the_last_checkpoint(
    loaded_dir: Path, checkpoint_url: str | None
) -> None:
    if checkpoint_url is None:
        pytest.skip("the cross-process crash test runs on PostgreSQL checkpoints")
    thread = f"test:crash-{uuid.uuid4().hex[:8]}"
    env = {**env_for(loaded_dir, checkpoint_url), "PMARK_CHECKPOINT_DURABILITY": "async"}
    _crash_in_retrieve(thread, env)

    settings = Settings(
        data_dir=loaded_dir, postgres_url=checkpoint_url, checkpoint_durability="async"
    )
    async with open_agent(PMark(settings)) as agent:
        state = await agent.state(thread)
        assert state["notification"]["location"]["code"] == "BUS"  # normalized before the crash
        assert "response" not in state
        response = await agent.resume_pending(thread)
        assert response is not None and response["kind"] == "answer"
        assert response["recommendations"]
        assert await agent.resume_pending(thread) is None
