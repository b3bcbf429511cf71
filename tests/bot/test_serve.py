"""`pmark serve` as a process: configured from PMARK_* variables, answers, stops cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from agent.context import PMark
from tests.bot.support import APP_ID, APP_PASSWORD, ISSUER, Stub, teams_message

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_pmark_serve_process(plant: PMark, stub: Stub) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMARK_")}
    env.update(
        {
            "PMARK_DATA_DIR": str(plant.settings.data_dir),
            "PMARK_HOST": "127.0.0.1",
            "PMARK_MICROSOFT_APP_ID": APP_ID,
            "PMARK_MICROSOFT_APP_PASSWORD": APP_PASSWORD,
            "PMARK_BOTFRAMEWORK_OPENID_METADATA_URL": f"{stub.base}/openid",
            "PMARK_BOTFRAMEWORK_TOKEN_ISSUER": ISSUER,
            "PMARK_BOTFRAMEWORK_LOGIN_URL": f"{stub.base}/botframework.com",
            "PMARK_MAX_BODY_BYTES": "100000",
        }
    )
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "pmark"),
        "serve",
        "--port",
        str(port),
        env=env,
        cwd=str(plant.settings.data_dir),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                try:
                    async with http.get(f"{base}/readyz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert proc.returncode is None, "pmark serve exited"
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("pmark serve did not become ready")
            activity = teams_message(stub.base + "/", "2공장 펌프 누유 긴급", chain="proc-1")
            token = stub.channel_token(stub.base + "/")
            before = len(stub.connector("message"))
            async with http.post(
                f"{base}/api/messages", json=activity, headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                assert resp.status == 200
            await stub.wait_for(lambda: stub.connector("message")[before:])
            async with http.post(f"{base}/api/messages", json=activity) as resp:
                assert resp.status == 401
            async with http.post(
                f"{base}/api/messages",
                data=b"x" * 200_000,
                headers={"Content-Type": "application/json"},
            ) as resp:
                assert resp.status == 413
            async with http.get(f"{base}/healthz") as resp:
                assert resp.status == 200
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AssertionError("pmark serve did not stop on SIGTERM") from None
    stderr = (await proc.stderr.read()).decode() if proc.stderr else ""
    assert proc.returncode == 0, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-2000:]
