"""The conversation graph: validate → parse → normalize → (clarify) → retrieve → recommend →
respond → quality check, with an error handler and one bounded loop-back."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.types import Checkpointer

from adapters.tracing import record_error, span
from agent.deps import AgentDeps
from agent.metrics import NODE_ERRORS, NODE_SECONDS, WATCH
from agent.nodes.clarify import clarify, needs_clarification
from agent.nodes.error_handler import empty_reply, error_handler
from agent.nodes.followup import followup
from agent.nodes.normalize import normalize
from agent.nodes.parse import parse
from agent.nodes.quality import quality_check
from agent.nodes.recommend import recommend
from agent.nodes.respond import respond
from agent.nodes.retrieve import retrieve
from agent.nodes.validate import validate
from agent.state import TurnState

log = logging.getLogger(__name__)
Node = Callable[..., dict[str, Any] | Awaitable[dict[str, Any]]]


def _timed(
    name: str, fn: Node, deps: AgentDeps
) -> Callable[[TurnState], Awaitable[dict[str, Any]]]:
    """Time a node, count its errors, and turn an exception into state instead of a crash."""
    wants_deps = "deps" in inspect.signature(fn).parameters

    async def run(state: TurnState) -> dict[str, Any]:
        started = time.perf_counter()
        with span(f"pmark.node {name}", **{"pmark.node": name}):
            try:
                out = fn(state, deps) if wants_deps else fn(state)
                if inspect.isawaitable(out):
                    out = await out
                update: dict[str, Any] = dict(out)
            except GraphBubbleUp:
                raise  # interrupts travel up to the runner
            except Exception as exc:
                NODE_ERRORS.labels(name).inc()
                record_error(exc)
                log.exception("node %s failed (turn %s)", name, state.get("turn_id"))
                update = {"errors": [f"{name}: {type(exc).__name__}"]}
        elapsed = time.perf_counter() - started
        NODE_SECONDS.labels(name).observe(elapsed)
        WATCH.observe(name, elapsed)
        update["timings"] = {name: round(elapsed * 1000, 3)}
        return update

    return run


def _failed(state: TurnState) -> bool:
    return bool(state.get("errors"))


def _on_loop(route: Callable[[TurnState], str]) -> Callable[[TurnState], Awaitable[str]]:
    """A routing function as a coroutine: LangGraph runs a plain one on a worker thread, a
    hop per edge that costs more than the routing (and waits for a core on a busy host)."""

    async def run(state: TurnState) -> str:
        return route(state)

    return run


def build_graph(deps: AgentDeps, checkpointer: Checkpointer = None) -> Any:
    """Compile the graph with the given checkpointer."""
    g: StateGraph[TurnState] = StateGraph(TurnState)
    nodes: dict[str, Node] = {
        "validate": validate,
        "parse": parse,
        "normalize": normalize,
        "clarify": clarify,
        "retrieve": retrieve,
        "recommend": recommend,
        "respond": respond,
        "quality_check": quality_check,
        "followup": followup,
        "error_handler": error_handler,
        "empty": empty_reply,
    }
    for name, fn in nodes.items():
        g.add_node(name, _timed(name, fn, deps))  # type: ignore[call-overload]

    def after_validate(state: TurnState) -> str:
        if _failed(state):
            return "error_handler"
        return {"followup": "followup", "empty": "empty"}.get(state.get("intent", ""), "parse")

    def after_normalize(state: TurnState) -> str:
        if _failed(state):
            return "error_handler"
        return "clarify" if needs_clarification(state) else "retrieve"

    def after_clarify(state: TurnState) -> str:
        if _failed(state):
            return "error_handler"
        return "clarify" if needs_clarification(state) else "retrieve"

    def ok_or_error(target: str) -> Callable[[TurnState], str]:
        return lambda state: "error_handler" if _failed(state) else target

    g.add_edge(START, "validate")
    routes: list[tuple[str, Callable[[TurnState], str], list[str]]] = [
        ("validate", after_validate, ["parse", "followup", "empty", "error_handler"]),
        ("parse", ok_or_error("normalize"), ["normalize", "error_handler"]),
        ("normalize", after_normalize, ["clarify", "retrieve", "error_handler"]),
        ("clarify", after_clarify, ["clarify", "retrieve", "error_handler"]),
        ("retrieve", ok_or_error("recommend"), ["recommend", "error_handler"]),
        ("recommend", ok_or_error("respond"), ["respond", "error_handler"]),
        ("respond", ok_or_error("quality_check"), ["quality_check", "error_handler"]),
        ("quality_check", after_quality, ["retrieve", "error_handler", END]),
    ]
    for source, route, targets in routes:
        g.add_conditional_edges(source, _on_loop(route), targets)
    g.add_edge("followup", END)
    g.add_edge("empty", END)
    g.add_edge("error_handler", END)
    return g.compile(checkpointer=checkpointer)


def after_quality(state: TurnState) -> str:
    """Loop back to retrieve when quality_check asked for the one broader search."""
    if _failed(state):
        return "error_handler"
    return "retrieve" if state.get("retry") else END
