"""The conversation graph: understand (validate → parse → normalize) → (clarify) → answer
(retrieve → recommend → respond → quality check, with one bounded loop-back), an error handler.
A report that needs no question is answered inside understand's own superstep.

The steps inside a stage always follow one another within a turn, so they run as one graph node:
each LangGraph superstep costs its own task, callbacks, channel copies and checkpoint bookkeeping
(bench_http, 1 worker: 19% of the serving process's CPU across 7 supersteps per answer). Each step
keeps its own span, histogram and timing; the graph keeps its nodes where a turn can pause
(clarify's question) or branch (follow-up, empty, error).
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, cast, get_origin, get_type_hints

from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.types import Checkpointer, Command

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


def _failed(state: Mapping[str, Any]) -> bool:
    return bool(state.get("errors"))


Update = dict[str, Any]
Step = Callable[[TurnState], Awaitable[Update]]
# The state's own reducers (timings merge, errors add), read from TurnState's annotations.
_REDUCERS: dict[str, Callable[[Any, Any], Any]] = {
    name: hint.__metadata__[0]
    for name, hint in get_type_hints(TurnState, include_extras=True).items()
    if get_origin(hint) is Annotated
}
_BRANCHES = ("followup", "empty")  # intents answered by a node of their own
# A stage's loop-back bound, on top of quality_check's own (MAX_RETRIES): a guard, never reached.
_MAX_ROUNDS = 3


def _merge(into: dict[str, Any], update: Update) -> None:
    """Apply an update as the graph would, with the state's reducers."""
    for key, value in update.items():
        reducer = _REDUCERS.get(key)
        into[key] = reducer(into[key], value) if reducer and key in into else value


Route = Callable[[TurnState], str]


def _routed(run: Step, route: Route) -> Callable[[TurnState], Awaitable[Command[str]]]:
    """A node that names its successor itself, from the state its update leaves.

    A conditional edge would read the whole state back after the node, copying every channel
    (bench_http, 1 worker: 2% of the serving process's CPU); a Command carries the route with the
    update instead. A plain routing function would also run on a worker thread.
    """

    async def node(state: TurnState) -> Command[str]:
        update = await run(state)
        view: dict[str, Any] = dict(state)
        _merge(view, update)
        return Command(update=update, goto=route(cast(TurnState, view)))

    return node


def _stage(
    steps: tuple[Step, ...],
    stop: Callable[[Mapping[str, Any]], bool] = lambda view: False,
    again: Callable[[Mapping[str, Any]], bool] = lambda view: False,
) -> Step:
    """Run steps in order as one superstep: each sees the ones before it; a failed step or
    `stop` ends the stage; `again` runs the steps once more (bounded by _MAX_ROUNDS)."""

    async def run(state: TurnState) -> Update:
        view: dict[str, Any] = dict(state)
        out: Update = {}
        for _ in range(_MAX_ROUNDS):
            for step in steps:
                update = await step(view)  # type: ignore[arg-type]
                _merge(out, update)
                _merge(view, update)
                if _failed(view) or stop(view):
                    return out
            if not again(view):
                break
        return out

    return run


def _understand(validate_: Step, parse_: Step, normalize_: Step) -> Step:
    """validate, then (for a report) parse and normalize."""
    return _stage(
        (validate_, parse_, normalize_), stop=lambda view: view.get("intent") in _BRANCHES
    )


def _answer(retrieve_: Step, recommend_: Step, respond_: Step, quality_: Step) -> Step:
    """retrieve → recommend → respond → quality_check, again once when quality asks."""
    return _stage(
        (retrieve_, recommend_, respond_, quality_), again=lambda view: bool(view.get("retry"))
    )


def _past(to: str, ran: str, then: Route, state: TurnState) -> str:
    """Where a node goes when it ran `ran` itself instead of going there."""
    return then(state) if to == ran else to


def _then(first: Step, route: Route, name: str, second: Step) -> Step:
    """`first`, then `second` in the same superstep when `first` routes to `name`: a report
    that needs no question is answered in one step (each superstep costs its task, channel
    copies and bookkeeping: ~2.5% of the serving process's CPU in bench_http, py-spy)."""

    async def run(state: TurnState) -> Update:
        out = await first(state)
        view: dict[str, Any] = dict(state)
        _merge(view, out)
        if route(cast(TurnState, view)) == name:
            _merge(out, await second(cast(TurnState, view)))
        return out

    return run


def build_graph(deps: AgentDeps, checkpointer: Checkpointer = None) -> Any:
    """Compile the graph with the given checkpointer."""
    g: StateGraph[TurnState] = StateGraph(TurnState)
    step = {
        name: _timed(name, fn, deps)
        for name, fn in (
            ("validate", validate),
            ("parse", parse),
            ("normalize", normalize),
            ("retrieve", retrieve),
            ("recommend", recommend),
            ("respond", respond),
            ("quality_check", quality_check),
        )
    }

    def after_understand(state: TurnState) -> str:
        if _failed(state):
            return "error_handler"
        intent = state.get("intent", "")
        if intent in _BRANCHES:
            return str(intent)
        return "clarify" if needs_clarification(state) else "answer"

    def after_clarify(state: TurnState) -> str:
        if _failed(state):
            return "error_handler"
        return "clarify" if needs_clarification(state) else "answer"

    def after_answer(state: TurnState) -> str:
        return "error_handler" if _failed(state) else END

    understand = _understand(step["validate"], step["parse"], step["normalize"])
    answer = _answer(step["retrieve"], step["recommend"], step["respond"], step["quality_check"])
    routed: list[tuple[str, Step, Route, tuple[str, ...]]] = [
        (
            "understand",
            _then(understand, after_understand, "answer", answer),
            # The answer stage leaves intent and missing fields as they were: understand's
            # route still reads "answer" after it, which is where the turn ends.
            lambda state: _past(after_understand(state), "answer", after_answer, state),
            ("followup", "empty", "clarify", "answer", "error_handler", END),
        ),
        (
            "clarify",
            _timed("clarify", clarify, deps),
            after_clarify,
            ("clarify", "answer", "error_handler"),
        ),
        ("answer", answer, after_answer, ("error_handler", END)),
    ]
    for name, run, route, targets in routed:
        g.add_node(name, _routed(run, route), destinations=targets)  # type: ignore[call-overload]
    for name, fn in (
        ("followup", followup),
        ("error_handler", error_handler),
        ("empty", empty_reply),
    ):
        g.add_node(name, _timed(name, fn, deps))  # type: ignore[call-overload]
        g.add_edge(name, END)
    g.add_edge(START, "understand")
    return g.compile(checkpointer=checkpointer)
