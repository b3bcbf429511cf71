"""Named evaluation configurations (what `pmark eval compare A B` accepts) and the run's version.

Parsing: `vectors` | `novectors`. Retrieval: `hybrid` (the configured alpha), `bm25` (alpha 0),
`vector` (alpha 1), `alpha=<x>`, and `prototype` (the seed's SQL scoring on the parsed
location/equipment/priority).
"""

from __future__ import annotations

from importlib import metadata

PARSER_CONFIGS: tuple[str, ...] = ("vectors", "novectors")
RETRIEVAL_CONFIGS: tuple[str, ...] = ("hybrid", "bm25", "vector", "prototype")
FULL_KIND = "full"


class EvaluationError(ValueError):
    """A run that cannot start (unknown configuration, mismatched A/B tasks)."""


def pmark_version() -> str:
    """The installed PMark version (stored with each run)."""
    try:
        return metadata.version("pmark")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def config_task(name: str) -> str:
    """'parsing' or 'retrieval' for a configuration name; EvaluationError when unknown."""
    if name in PARSER_CONFIGS:
        return "parsing"
    if name in RETRIEVAL_CONFIGS:
        return "retrieval"
    if name.startswith("alpha="):
        alpha_of(name, 0.5)
        return "retrieval"
    known = ", ".join((*PARSER_CONFIGS, *RETRIEVAL_CONFIGS, "alpha=<0..1>"))
    raise EvaluationError(f"unknown configuration {name!r}; known: {known}")


def alpha_of(name: str, configured: float) -> float:
    """The hybrid-search alpha a retrieval configuration means (`configured` for `hybrid`)."""
    if name == "hybrid":
        return configured
    if name == "bm25":
        return 0.0
    if name == "vector":
        return 1.0
    try:
        alpha = float(name.split("=", 1)[1])
    except (IndexError, ValueError):
        raise EvaluationError(f"bad alpha in {name!r}") from None
    if not 0.0 <= alpha <= 1.0:
        raise EvaluationError(f"alpha must be in [0, 1], got {alpha}")
    return alpha
