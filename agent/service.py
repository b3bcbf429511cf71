"""Opening the whole agent (context, checkpointer, LLM) for a process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.llm.factory import make_llm
from agent.checkpointer import open_checkpointer
from agent.context import PMark
from agent.deps import AgentDeps
from agent.lifecycle import Lifecycle
from agent.runner import Agent


@asynccontextmanager
async def open_agent(
    ctx: PMark | None = None, durability: str | None = None
) -> AsyncIterator[Agent]:
    """An Agent on the configured checkpointer (and durability, unless given), closed with the
    block."""
    ctx = ctx or PMark()
    durability = durability or ctx.settings.checkpoint_durability
    # Both are slow enough to stall a server's event loop: the client's TLS context, and the
    # catalog read and search index build of the deps.
    llm = await asyncio.to_thread(make_llm, ctx.settings)
    deps = await asyncio.to_thread(AgentDeps.from_context, ctx, llm)
    try:
        async with open_checkpointer(ctx.settings) as checkpointing:
            lifecycle = Lifecycle(ctx.repo, ctx.settings, ctx.index_notifications)
            agent = Agent(deps, checkpointing, ctx.repo, durability=durability, lifecycle=lifecycle)
            try:
                yield agent
            finally:
                await agent.settle()
    finally:
        if llm is not None:
            await llm.aclose()
