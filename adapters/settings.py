"""PMark configuration: one settings class, read from PMARK_* variables, `.env` and secret files."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob PMark has. Secrets may also come from files in PMARK_SECRETS_DIR."""

    model_config = SettingsConfigDict(
        env_prefix="PMARK_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # A mounted Key Vault (Secrets Store CSI) directory holds one file per secret,
        # named like the variable in lower case (e.g. `pmark_slack_signing_secret`).
        secrets_dir=os.environ.get("PMARK_SECRETS_DIR") or None,
    )

    data_dir: Path = Field(
        Path(".pmark"), description="Holds the SQLite database and local indexes."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the application database; default SQLite in the data dir. "
        "postgresql+psycopg://… or mssql+pyodbc://… (Azure SQL, ODBC Driver 18).",
    )
    # At least the default executor's threads (min(32, cores + 4)) plus the event loop's own use:
    # with fewer, every busy moment opens and closes an overflow connection, and PostgreSQL
    # forks and authenticates a backend for each (measured: 565 connections for 2,000 turns at 5).
    db_pool_size: int = Field(10, description="Connection pool size (server databases).")
    db_max_overflow: int = Field(10, description="Extra connections beyond the pool size.")
    db_pool_recycle: int = Field(
        1800, description="Seconds before a pooled connection is recycled."
    )
    db_connect_timeout: float = Field(
        1.0,
        description="Seconds to wait for a database connection before the database counts as "
        "unavailable: the message is then kept in the local spool, the user is told, and the "
        "answer follows when the database is back.",
    )
    db_pool_open_full: bool = Field(
        False,
        description="Open the PostgreSQL checkpoint and lock pools at their full size (20 and 40 "
        "connections by default) when PMark starts. Opened one by one under a burst of turns, new "
        "connections wait behind a busy process and can time out (PoolTimeout, the turn is "
        "retried). Worth it where max_connections allows 60 per process.",
    )
    postgres_url: str | None = Field(
        None, description="PostgreSQL URL (postgresql://…) for LangGraph checkpoints."
    )
    checkpoint_durability: Literal["exit", "async", "sync"] = Field(
        "exit",
        description=(
            "When a turn's state is checkpointed (LangGraph's durability). exit: once, when the "
            "turn ends or asks a question; a process that dies mid-turn leaves the conversation "
            "as it was before the turn, and the replayed message runs the turn again. async or "
            "sync: after every node as well, so such a turn resumes from its last node, for about "
            "twice the checkpoint work per turn (26 statements instead of 2)."
        ),
    )
    checkpoint_synchronous_commit: bool = Field(
        False,
        description=(
            "Wait for the WAL flush on every checkpoint write. Off, a PostgreSQL crash may lose "
            "the last fraction of a second of checkpoints (never a clean stop or a PMark crash), "
            "and a turn costs several milliseconds less."
        ),
    )
    weaviate_url: str | None = Field(
        None, description="Weaviate HTTP URL; the embedded hybrid index is used when unset."
    )
    weaviate_grpc_port: int = Field(50051, description="Weaviate gRPC port.")
    weaviate_api_key: SecretStr | None = Field(None, description="Weaviate API key, if any.")
    weaviate_collection: str = Field("Notification", description="Weaviate collection name.")
    weaviate_tenant: str | None = Field(
        None, description="Weaviate tenant (one per plant) when multi-tenancy is used."
    )
    weaviate_tokenization: str = Field(
        "kiwi", description="'kiwi' (pre-tokenized, same as embedded) or 'kagome_kr'."
    )
    weaviate_timeout: float = Field(
        2.0,
        description="Seconds before a Weaviate query or connection attempt fails; the embedded "
        "mirror answers meanwhile.",
    )
    weaviate_retry_seconds: float = Field(
        5.0, description="Seconds between reconnection attempts while Weaviate is down."
    )
    embedder: str = Field(
        "use", description="'use' (multilingual USE v3) or 'st' (sentence-transformers)."
    )
    embedder_model_path: str | None = Field(
        None, description="Local model directory for the sentence-transformers embedder."
    )
    llm_url: str | None = Field(
        None, description="OpenAI-compatible base URL (vLLM), e.g. http://vllm:8000/v1."
    )
    llm_model: str = Field("Qwen/Qwen3-8B", description="Model name served by the LLM server.")
    llm_api_key: SecretStr | None = Field(None, description="Bearer token for the LLM server.")
    llm_timeout: float = Field(8.0, description="Seconds before an LLM call is abandoned.")
    normalize_threshold: float = Field(
        0.85, description="Minimum embedding similarity for vector normalization."
    )
    weak_match_score: float = Field(
        0.57,
        description="Below this best-case score the card says no similar case was found "
        "(measured: benchmarks/measure_weak_match.py).",
    )
    search_alpha: float = Field(
        0.5, description="Hybrid weight of the vector side (0 = BM25 only)."
    )
    host: str = Field("127.0.0.1", description="Address `pmark serve` binds.")
    blas_threads: int = Field(
        1,
        ge=1,
        description="Threads numpy's BLAS may use in a serving process. Requests run side by "
        "side and workers use the other cores; OpenBLAS's extra threads spin while idle (half a "
        "core measured under load) for vectors too small to split.",
    )
    port: int = Field(3978, description="Port `pmark serve` binds.")
    workers: int | None = Field(
        None,
        description="Worker processes `pmark serve` runs on the one port (SO_REUSEPORT). Unset: "
        "one per core when conversations are checkpointed in PostgreSQL (PMARK_POSTGRES_URL), "
        "else 1. More than one needs PostgreSQL: it is what keeps a conversation's turns in order "
        "across processes.",
    )
    worker_restart_limit: int = Field(
        5,
        description="A worker that dies this many times in a row within a minute of starting "
        "stops the whole server (a crash loop is a fault to see, not to hide).",
    )
    playground_url: str | None = Field(
        None,
        description="Agents Playground web UI started next to PMark (scripts/quickstart.sh); "
        "linked from the home page.",
    )
    microsoft_app_id: str | None = Field(
        None, description="Azure Bot app id; unset = emulator mode."
    )
    microsoft_app_password: SecretStr | None = Field(None, description="Azure Bot client secret.")
    microsoft_app_tenant_id: str | None = Field(
        None, description="Tenant id for single-tenant bots."
    )
    microsoft_app_type: str = Field(
        "MultiTenant", description="MultiTenant, SingleTenant or UserAssignedMSI."
    )
    slack_bot_token: SecretStr | None = Field(None, description="Slack bot token (xoxb-…).")
    slack_signing_secret: SecretStr | None = Field(None, description="Slack signing secret.")
    slack_api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL.")
    supervisors: list[str] = Field(
        default_factory=list,
        description="AAD object ids / Slack user ids whose thumbs count as relevance labels.",
    )
    admin_token: SecretStr | None = Field(None, description="Token for /eval and admin endpoints.")
    timezone: str = Field("Asia/Seoul", description="Plant time zone for schedules.")
    eval_schedule_enabled: bool = Field(
        True,
        description="Run the scheduled evaluation and checkpoint maintenance in `pmark serve`.",
    )
    eval_cron: str = Field("0 2 * * *", description="Cron of the nightly evaluation run.")
    digest_teams_conversations: list[str] = Field(
        default_factory=list, description="Teams conversation ids that receive the digest."
    )
    digest_slack_channels: list[str] = Field(
        default_factory=list, description="Slack channel ids that receive the digest."
    )
    checkpoint_retention_days: int = Field(
        30, description="Idle conversations older than this are deleted."
    )
    max_body_bytes: int = Field(1_000_000, description="Request bodies above this get 413.")
    header_timeout: float = Field(
        15.0,
        description="Seconds a connection has to send a complete request head (and may stay idle "
        "between requests) before it is closed: a client that trickles headers is dropped.",
    )
    body_timeout: float = Field(
        10.0, description="Seconds to receive a request body once its head is in; else 408."
    )
    shutdown_timeout: float = Field(
        2.0, description="Seconds requests in flight get to finish when the server stops."
    )
    typing_after: float = Field(
        1.0,
        ge=0.0,
        description="Seconds a Teams answer may take before PMark shows the typing indicator "
        "(then again every 3 s until it answers).",
    )
    typing_repeat_below: int = Field(
        32,
        ge=0,
        description="Answers in flight in a process from which the Teams typing indicator is "
        "shown once per answer, not every 3 s: under load the repeats are the first work shed.",
    )
    close_cards_below: int = Field(
        32,
        ge=0,
        description="Answers in flight in a process from which a Teams card an answer supersedes "
        "is left as it was instead of closed in place (a press on it is still only explained): "
        "under load this cosmetic Bot Connector call is shed.",
    )
    rate_limit_per_minute: int = Field(30, description="Messages per user per minute.")
    log_level: str = Field("INFO", description="Logging level.")
    duplicate_window_days: float = Field(
        7.0,
        description="A report on a machine with an open notification filed within this many days "
        "is flagged as a possible duplicate before filing (0 turns the warning off).",
    )
    cmms_target: str = Field(
        "",
        description="Where filed, updated and closed notifications are handed over: 'webhook' "
        "(signed JSON), 'sap' (SAP PM API_MAINTNOTIFICATION) or empty (no hand-over).",
    )
    cmms_url: str | None = Field(
        None, description="Webhook URL, or the SAP service root …/API_MAINTNOTIFICATION."
    )
    cmms_secret: SecretStr | None = Field(
        None,
        description="HMAC-SHA256 key of the webhook's X-PMark-Signature (or the SAP password).",
    )
    cmms_user: str | None = Field(None, description="SAP user (basic authentication).")
    cmms_timeout: float = Field(5.0, description="Seconds before a CMMS delivery attempt fails.")
    cmms_poll_seconds: float = Field(
        2.0, description="Seconds between the outbox worker's passes over undelivered events."
    )
    cmms_max_backoff: float = Field(
        600.0, description="Longest wait in seconds between retries of one outbox event."
    )
    cmms_sap_notification_type: str = Field(
        "M1", description="SAP NotificationType of notifications PMark creates."
    )
    cmms_sap_code_group: str = Field(
        "PMARK",
        description="SAP catalog code group holding PMark's failure-mode codes as damage codes "
        "and its equipment codes as object-part codes.",
    )
    otel_enabled: bool = Field(
        False,
        description="Record OpenTelemetry traces: a span per turn with its graph nodes, search, "
        "LLM calls and channel posts (docs/tracing.md).",
    )
    otel_exporter: str = Field(
        "otlp",
        description="'otlp' (OTLP/HTTP to a collector or Azure Monitor's OTLP endpoint) or "
        "'azure_monitor' (azure-monitor-opentelemetry-exporter; "
        "APPLICATIONINSIGHTS_CONNECTION_STRING).",
    )
    otel_endpoint: str | None = Field(
        None,
        description="OTLP/HTTP traces URL, e.g. http://otel-collector:4318/v1/traces; unset = the "
        "standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT.",
    )
    otel_service_name: str = Field(
        "pmark", description="service.name of the spans (OTEL_SERVICE_NAME wins when set)."
    )

    def sqlalchemy_url(self) -> str:
        """The application database URL, defaulting to SQLite in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'pmark.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
