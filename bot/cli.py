"""The `pmark` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from adapters.csv_import import CsvFileError
from bot.cli_lifecycle import register as register_lifecycle
from evaluation.cli import eval_app

app = typer.Typer(
    help="PMark: maintenance notifications from what technicians write.", no_args_is_help=True
)
catalog_app = typer.Typer(help="The plant catalog.", no_args_is_help=True)
notifications_app = typer.Typer(help="Past maintenance notifications.", no_args_is_help=True)
db_app = typer.Typer(help="The application database.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
app.add_typer(notifications_app, name="notifications")
app.add_typer(db_app, name="db")
app.add_typer(eval_app, name="eval")
register_lifecycle(notifications_app, app)

err = Console(stderr=True)
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CATALOG = REPO_ROOT / "data" / "catalog.csv"
DEFAULT_HISTORY = REPO_ROOT / "data" / "history.csv"


def _context():  # type: ignore[no-untyped-def]
    from agent.context import PMark

    return PMark()


def _progress(description: str) -> Progress:
    return Progress(
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
    )


def _report_errors(errors: list[object]) -> None:
    for e in errors[:50]:
        err.print(f"[yellow]skipped[/] {e}")
    if len(errors) > 50:
        err.print(f"[yellow]… and {len(errors) - 50} more bad rows[/]")


def _texts(args: list[str]) -> list[str]:
    if args == ["-"]:
        return [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
    return [" ".join(args)] if args else []


@catalog_app.command("import")
def catalog_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace the whole catalog.")] = False,
) -> None:
    """Import catalog codes: category,code,name_ko,name_en,synonyms,parent."""
    ctx = _context()
    try:
        report = ctx.import_catalog(file, replace=replace)
    except CsvFileError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    _report_errors(list(report.errors))
    c = report.counts
    typer.echo(
        f"catalog: {c.inserted} added, {c.updated} updated, {c.unchanged} unchanged, "
        f"{len(report.errors)} bad rows skipped ({report.encoding}); "
        f"{ctx.repo.catalog_count()} codes in total"
    )


@notifications_app.command("import")
def notifications_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace all notifications.")] = False,
) -> None:
    """Import notifications (itemno,created_at,location,equipment,failure_mode,priority,…)."""
    ctx = _context()
    with _progress("indexing") as progress:
        task = progress.add_task("indexing", total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            report = ctx.import_notifications(file, replace=replace, progress=step)
        except CsvFileError as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
    _report_errors(list(report.errors))
    if report.unknown_codes:
        err.print(f"[yellow]codes not in the catalog:[/] {', '.join(report.unknown_codes[:20])}")
    c = report.counts
    typer.echo(
        f"notifications: {c.inserted} added, {c.updated} updated, {c.unchanged} unchanged, "
        f"{len(report.errors)} bad rows skipped ({report.encoding}); "
        f"{ctx.repo.notification_count()} in total, {ctx.index.count()} indexed"
    )


@notifications_app.command("reindex")
def notifications_reindex() -> None:
    """Rebuild the search index from the database."""
    ctx = _context()
    typer.echo(f"indexed {ctx.reindex()} notifications")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations."""
    from adapters.settings import get_settings
    from adapters.sql.migrate import upgrade

    upgrade(get_settings().sqlalchemy_url())
    typer.echo("database is up to date")


@app.command()
def demo(
    serve: Annotated[bool, typer.Option("--serve", help="Start the service afterwards.")] = False,
) -> None:
    """Load the default catalog and the demo history into the data dir."""
    ctx = _context()
    report = ctx.import_catalog(DEFAULT_CATALOG, replace=True)
    typer.echo(f"catalog: {ctx.repo.catalog_count()} codes ({report.counts.inserted} added)")
    notifications_import(DEFAULT_HISTORY, replace=False)
    if serve:
        serve_cmd()


@app.command("parse")
def parse_cmd(
    text: Annotated[
        list[str] | None, typer.Argument(help="Text to parse, or - for stdin lines.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per input line.")
    ] = False,
) -> None:
    """Parse technician text into a notification."""
    from agent.parsing.service import parse_texts

    texts = _texts(text or [])
    ctx = _context()
    for result in parse_texts(ctx, texts):
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False))
        else:
            fields = ", ".join(
                f"{k}={result[k]} ({result['confidence'][k]:.2f})"
                for k in ("location", "equipment", "failure_mode", "priority", "activity")
                if result[k] is not None
            )
            typer.echo(
                f"{result['text']}\n  {fields or 'nothing recognised'}"
                f"{'  tag=' + result['equipment_tag'] if result['equipment_tag'] else ''}"
                f"\n  missing: {', '.join(result['missing']) or '-'}"
            )


@app.command("search")
def search_cmd(
    query: Annotated[list[str] | None, typer.Argument(help="Query, or - for stdin lines.")] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="Results per query.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per query.")] = False,
) -> None:
    """Find similar past notifications and what fixed them."""
    from agent.recommend.service import search_texts

    ctx = _context()
    for q, recs in search_texts(ctx, _texts(query or []), k):
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "query": q,
                        "results": [
                            {
                                "itemno": r.itemno,
                                "score": round(r.score, 4),
                                "title": r.title,
                                "resolution": r.resolution,
                            }
                            for r in recs
                        ],
                    },
                    ensure_ascii=False,
                )
            )
        else:
            typer.echo(q)
            for i, r in enumerate(recs, 1):
                typer.echo(f"  {i}. [{r.score:.2f}] {r.itemno} {r.title}\n     → {r.resolution}")


@app.command("serve")
def serve_cmd(
    host: Annotated[str | None, typer.Option("--host", help="Bind address (PMARK_HOST).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (PMARK_PORT).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Processes serving the port (PMARK_WORKERS; default: one per core with "
            "PostgreSQL checkpoints, else 1).",
        ),
    ] = None,
) -> None:
    """Start the Teams/Slack service."""
    try:
        from bot.app import run, run_workers
    except ImportError:
        err.print("[red]pmark serve is not available yet in this build[/]")
        raise typer.Exit(3) from None
    from bot.workers import WorkersError

    try:
        code = run_workers(host, port, workers)
    except WorkersError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if code is None:
        run(host, port)
    elif code:
        raise typer.Exit(code)


@app.command("chat")
def chat_cmd(
    thread: Annotated[
        str | None, typer.Option("--thread", help="Conversation id to continue.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per bot turn.")] = False,
) -> None:
    """Talk to PMark in the terminal."""
    try:
        from bot.chat import run_chat
    except ImportError:
        err.print("[red]pmark chat is not available yet in this build[/]")
        raise typer.Exit(3) from None
    run_chat(thread, as_json)


teams_app = typer.Typer(help="The Microsoft Teams app package.", no_args_is_help=True)
slack_app = typer.Typer(help="The Slack app manifest.", no_args_is_help=True)
app.add_typer(teams_app, name="teams")
app.add_typer(slack_app, name="slack")


@teams_app.command("package")
def teams_package(
    out: Annotated[Path, typer.Option("--out", help="Zip file to write.")] = Path(
        "pmark-teams.zip"
    ),
    domain: Annotated[str | None, typer.Option("--domain", help="Public host of the bot.")] = None,
) -> None:
    """Build the uploadable Teams app zip (manifest, Korean localization, icons)."""
    from adapters.settings import get_settings
    from bot.packaging import PackagingError, build_teams_package

    try:
        path = build_teams_package(get_settings(), out, domain)
    except PackagingError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    typer.echo(f"wrote {path}")


@slack_app.command("manifest")
def slack_manifest(
    url: Annotated[str, typer.Option("--url", help="Public https base URL of PMark.")],
) -> None:
    """Print the Slack app manifest with the request URLs filled in."""
    from adapters.settings import get_settings
    from bot.packaging import PackagingError, render_slack_manifest

    try:
        typer.echo(render_slack_manifest(get_settings(), url))
    except PackagingError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


def _mask_secrets_in_logs() -> None:
    """Whatever a command logs (stderr's last-resort handler included) has its secrets masked."""
    from adapters.logging_redact import install_redaction
    from adapters.settings import get_settings

    try:
        settings = get_settings()
    except Exception:
        # Bad settings are the command's to report; URL passwords are still masked.
        install_redaction(None)
        return
    install_redaction(settings)


def main() -> None:
    """Entry point of the `pmark` console script."""
    _mask_secrets_in_logs()
    app()


if __name__ == "__main__":
    main()
