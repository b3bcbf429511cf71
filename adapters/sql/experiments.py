"""Experiments in PMark's own tables: evaluation runs filed under a name, with provenance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from adapters.sql.models import EvaluationRunRow, ExperimentRunRow


@dataclass(frozen=True)
class ExperimentRecord:
    """What is filed with a run: the experiment's name and the run's provenance."""

    experiment: str
    run_id: int
    kind: str
    created_at: datetime
    code_version: str
    researcher: str
    notes: str = ""


class ExperimentStore:
    """Reads and writes `experiment_runs`, joined with `evaluation_runs` for listing."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, rec: ExperimentRecord) -> int:
        """File a run under an experiment; returns the new row's id."""
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(ExperimentRunRow)
                .values(
                    experiment=rec.experiment,
                    run_id=rec.run_id,
                    kind=rec.kind,
                    created_at=rec.created_at,
                    code_version=rec.code_version,
                    researcher=rec.researcher,
                    notes=rec.notes,
                )
                .returning(ExperimentRunRow.id)
            )
            return int(result.scalar_one())

    def set_mlflow_run(self, row_id: int, mlflow_run_id: str) -> None:
        """Remember the MLflow run this row was also logged as."""
        with self.engine.begin() as conn:
            conn.execute(
                update(ExperimentRunRow)
                .where(ExperimentRunRow.id == row_id)
                .values(mlflow_run_id=mlflow_run_id)
            )

    def list(self, experiment: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Filed runs, newest first, each with its run's status, config and metrics."""
        query = (
            select(
                ExperimentRunRow.id,
                ExperimentRunRow.experiment,
                ExperimentRunRow.run_id,
                ExperimentRunRow.kind,
                ExperimentRunRow.created_at,
                ExperimentRunRow.code_version,
                ExperimentRunRow.researcher,
                ExperimentRunRow.notes,
                ExperimentRunRow.mlflow_run_id,
                EvaluationRunRow.status,
                EvaluationRunRow.version,
                EvaluationRunRow.config,
                EvaluationRunRow.metrics,
            )
            .join(EvaluationRunRow, EvaluationRunRow.id == ExperimentRunRow.run_id, isouter=True)
            .order_by(ExperimentRunRow.id.desc())
            .limit(limit)
        )
        if experiment is not None:
            query = query.where(ExperimentRunRow.experiment == experiment)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def run(self, run_id: int) -> dict[str, Any] | None:
        """One evaluation run's status, config and metrics (None when there is no such run)."""
        query = select(
            EvaluationRunRow.status, EvaluationRunRow.config, EvaluationRunRow.metrics
        ).where(EvaluationRunRow.id == run_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return dict(row._mapping) if row is not None else None
