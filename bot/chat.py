"""`pmark chat`: a conversation with the agent in the terminal (or over stdin)."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from typing import Any

from agent.runner import thread_id_for
from agent.service import open_agent

FIELDS = ("location", "equipment", "failure_mode", "priority", "activity")


def chat_json(thread: str, response: dict[str, Any]) -> dict[str, Any]:
    """The `--json` line of one bot turn."""
    view = response.get("notification") or {}
    notification = {f: (view.get(f) or {}).get("code") for f in FIELDS}
    notification["equipment_tag"] = view.get("equipment_tag")
    return {
        "thread": thread,
        "reply": response.get("reply", ""),
        "kind": response.get("kind"),
        "notification": notification,
        "missing": response.get("missing", []),
        "recommendations": [
            {
                "itemno": r["itemno"],
                "score": r["score"],
                "title": r["title"],
                "resolution": r["resolution"],
            }
            for r in response.get("recommendations") or []
        ],
        # What '/file' filed (a number) and the open notifications the draft may repeat.
        "filed": response.get("filed"),
        "duplicates": [
            {"number": d["number"], "status": d["status"], "created_at": d["created_at"]}
            for d in response.get("duplicates") or []
        ],
    }


async def _chat(thread: str, as_json: bool) -> None:
    interactive = sys.stdin.isatty()
    async with open_agent() as agent:
        thread_id = thread_id_for("cli", thread)
        while True:
            if interactive:
                try:
                    line = await asyncio.to_thread(input, "you> ")
                except EOFError:
                    break
            else:
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line:
                    break
            text = line.strip()
            if not text:
                continue
            if interactive and text in ("/quit", "/exit"):
                break
            response = await agent.turn(thread_id, text, user_id="cli")
            if as_json:
                print(json.dumps(chat_json(thread, response), ensure_ascii=False), flush=True)
            else:
                print(f"pmark> {response.get('reply', '')}\n", flush=True)


def run_chat(thread: str | None, as_json: bool) -> None:
    """Run the chat loop until end of input."""
    asyncio.run(_chat(thread or uuid.uuid4().hex[:12], as_json))
