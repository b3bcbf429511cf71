"""`pmark notifications list|start|close` and `pmark cmms deliver`: the lifecycle service of the
channels (agent/lifecycle.py) and the CMMS outbox worker, from the command line."""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console

err = Console(stderr=True)
cmms_app = typer.Typer(help="Hand-over of notifications to the plant's CMMS.", no_args_is_help=True)


class Status(StrEnum):
    """A notification's status."""

    open = "open"
    in_progress = "in_progress"
    closed = "closed"


def _lifecycle():  # type: ignore[no-untyped-def]
    from agent.context import PMark
    from agent.lifecycle import Lifecycle

    ctx = PMark()
    return Lifecycle(ctx.repo, ctx.settings, ctx.index_notifications)


def list_line(r: Any) -> dict[str, Any]:
    """The `--json` object of one notification."""
    return {
        "number": r.itemno,
        "status": r.status,
        "location": r.location,
        "equipment": r.equipment,
        "failure_mode": r.failure_mode,
        "priority": r.priority,
        "created_at": r.created_at.isoformat(),
        "source": r.source,
    }


def register(notifications_app: typer.Typer, app: typer.Typer) -> None:
    """Add the lifecycle commands to `pmark notifications` and `pmark cmms` to `pmark`."""
    notifications_app.command("list")(list_cmd)
    notifications_app.command("start")(start_cmd)
    notifications_app.command("close")(close_cmd)
    app.add_typer(cmms_app, name="cmms")


def list_cmd(
    status: Annotated[
        Status | None, typer.Option("--status", help="Only notifications of this status.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """List notifications, newest first."""
    from agent.context import PMark

    repo = PMark().repo
    for r in repo.list_notifications(status.value if status else None):
        if as_json:
            typer.echo(json.dumps(list_line(r), ensure_ascii=False))
        else:
            typer.echo(
                f"{r.itemno}  {r.status:<11} {r.created_at:%Y-%m-%d %H:%M}  "
                f"{r.location or '-'}/{r.equipment or '-'}/{r.failure_mode or '-'} "
                f"P{r.priority or '-'}  {r.source}  {r.title[:60]}"
            )


def start_cmd(number: Annotated[str, typer.Argument(help="Notification number.")]) -> None:
    """Mark an open notification as in progress."""
    record = _lifecycle().start(number)
    if record is None:
        err.print(f"[red]error:[/] {number} is not an open notification")
        raise typer.Exit(2)
    typer.echo(f"{record.itemno}: {record.status}")


def close_cmd(
    number: Annotated[str, typer.Argument(help="Notification number.")],
    resolution: Annotated[str, typer.Option("--resolution", help="What fixed it.")],
    by: Annotated[str, typer.Option("--by", help="Who closes it.")] = "cli",
) -> None:
    """Close a notification with its resolution (it joins the search history at once)."""
    if not resolution.strip():
        err.print("[red]error:[/] --resolution must say what fixed it")
        raise typer.Exit(2)
    record, closed = _lifecycle().close(number, resolution, by)
    if record is None:
        err.print(f"[red]error:[/] no notification {number}")
        raise typer.Exit(2)
    if not closed:
        err.print(f"[yellow]{number} was already closed[/]: {record.resolution}")
        raise typer.Exit(1)
    typer.echo(f"{record.itemno}: closed — {record.resolution}")


@cmms_app.command("deliver")
def deliver_cmd(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
) -> None:
    """Deliver the outbox to the configured CMMS (`pmark serve` does this in the background)."""
    from adapters.cmms.outbox import OutboxWorker
    from adapters.settings import get_settings
    from adapters.sql.migrate import upgrade
    from adapters.sql.repository import Repository

    settings = get_settings()
    upgrade(settings.sqlalchemy_url())
    repo = Repository.from_url(settings.sqlalchemy_url())
    worker = OutboxWorker.from_settings(repo, settings)
    if worker is None:
        err.print("[red]error:[/] PMARK_CMMS_TARGET and PMARK_CMMS_URL are not set")
        raise typer.Exit(2)

    async def run() -> None:
        try:
            if once:
                done = await worker.run_once()
                typer.echo(f"delivered {done}")
            else:
                await worker.run_forever()
        finally:
            await worker.aclose()

    asyncio.run(run())
