"""The LLM answer cache shared by worker processes (adapters/llm/shared_cache.py)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from adapters.llm.client import OpenAICompatibleLLM
from adapters.llm.factory import make_llm
from adapters.llm.shared_cache import DiskAnswerCache, open_answer_cache
from adapters.settings import Settings
from tests.llm.test_llm_client_faults import MESSAGES, SCHEMA, Server, ok


def worker(server: Server, directory: Path) -> OpenAICompatibleLLM:
    """One worker process's client: its own memory cache, the machine's shared one."""
    return OpenAICompatibleLLM(
        "http://llm.test/v1",
        "m",
        transport=httpx.MockTransport(server),
        shared_cache=DiskAnswerCache(directory),
    )


async def test_an_answer_paid_by_one_worker_serves_the_others(tmp_path: Path) -> None:
    server = Server(ok())
    first, second = worker(server, tmp_path), worker(server, tmp_path)
    assert await first.chat_json(MESSAGES, SCHEMA) == {"color": "blue"}
    assert await second.chat_json(MESSAGES, SCHEMA) == {"color": "blue"}
    assert await second.chat_text(MESSAGES) is not None  # another request: asked once
    assert server.chat_calls == 2
    await first.aclose()
    await second.aclose()


async def test_failures_are_not_shared(tmp_path: Path) -> None:
    server = Server(httpx.Response(500), ok())
    first = OpenAICompatibleLLM(
        "http://llm.test/v1",
        "m",
        transport=httpx.MockTransport(server),
        max_retries=0,
        shared_cache=DiskAnswerCache(tmp_path),
    )
    second = worker(server, tmp_path)
    try:
        await first.chat_json(MESSAGES, SCHEMA)
    except Exception:
        pass
    assert await second.chat_json(MESSAGES, SCHEMA) == {"color": "blue"}
    assert server.chat_calls == 2
    await first.aclose()
    await second.aclose()


def test_another_process_reads_what_this_one_wrote(tmp_path: Path) -> None:
    cache = DiskAnswerCache(tmp_path)
    cache.set("k", {"answer": "냉각수 펌프"}, ttl=60)
    code = (
        "import sys; from pathlib import Path; "
        "from adapters.llm.shared_cache import DiskAnswerCache; "
        "print(DiskAnswerCache(Path(sys.argv[1])).get('k')['answer'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        encoding="utf-8",
    )
    assert out.stdout.strip() == "냉각수 펌프"
    cache.close()


def test_a_locked_cache_file_skips_the_write_and_still_reads(tmp_path: Path) -> None:
    cache = DiskAnswerCache(tmp_path)
    cache.set("k", "v", ttl=60)
    holder = sqlite3.connect(tmp_path / "cache.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another worker in the middle of a write
    try:
        assert cache.get("k") == "v"  # WAL: readers never wait for a writer
        cache.set("other", "v", ttl=60)  # skipped after the short lock wait, not raised
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert cache.get("k") == "v"
    assert cache.get("other") is None
    cache.close()


def test_an_unusable_directory_runs_without_the_shared_tier(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    assert open_answer_cache(blocker / "llm-cache") is None


async def test_the_factory_puts_the_cache_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(llm_url="http://llm.test/v1", data_dir=tmp_path)
    llm = make_llm(settings)
    assert isinstance(llm, OpenAICompatibleLLM)
    assert (tmp_path / "llm-cache" / "cache.db").exists()
    await llm.aclose()
