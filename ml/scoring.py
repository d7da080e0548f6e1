"""Batch scoring: every customer's score as of a date, by the champion (and, for an A/B share of customers,
by the challenger), into the Delta table `<lake>/ml/scores` through write-audit-publish.

lakehouse/wap.py's candidates fit a plain table as well as a dbt mart: the date's scores are written as a
candidate (a merge on customer_id and as_of_date, so a rerun replaces the date's rows and nothing else),
audited (one row per feature row, scores in [0, 1], a model version on every row), and only then committed
and the catalog view `ml.scores` pinned to the new version. A failed audit withholds the candidate (kept for
inspection, as a withheld mart is) and raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa

from lakehouse.files import delete_tree
from lakehouse.lake import duckdb_session, open_table
from lakehouse.layout import ml_table
from lakehouse.settings import Settings, get_settings
from lakehouse.wap import (
    Candidate,
    RunDecision,
    new_run_id,
    pin_views,
    publish_candidate,
    withhold_run,
    write_candidate,
    write_decision,
)
from ml.assignment import CHALLENGER_ARM, CHAMPION_ARM, challenger_mask, experiment_key
from ml.dataset import to_matrix
from ml.features import load_features
from ml.registry import CHALLENGER, CHAMPION, NoModel, aliased_version, feature_names, load_version, predict

SCORES = "scores"
CATALOG_SCHEMA = "ml"

SCORES_SCHEMA = pa.schema(
    [
        pa.field("customer_id", pa.int64(), nullable=False),
        pa.field("as_of_date", pa.date32(), nullable=False),
        pa.field("score", pa.float64(), nullable=False),
        pa.field("model_name", pa.string(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("arm", pa.string(), nullable=False),  # champion | challenger
        pa.field("experiment", pa.string()),  # the A/B experiment, null when there is no challenger
    ]
)


class ScoresWithheld(RuntimeError):
    """The scores' audit failed: nothing was published (the candidate is kept for inspection)."""


@dataclass
class ScoreReport:
    as_of: date
    rows: int
    table_version: int
    model_name: str
    champion_version: str
    challenger_version: str | None
    experiment: str | None
    challenger_rows: int
    features: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # for drift
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)


def scores_table_uri(settings: Settings | None = None) -> str:
    return ml_table(SCORES, settings)


def champion_exists(settings: Settings | None = None) -> bool:
    return aliased_version(CHAMPION, settings) is not None


def compute_scores(as_of: date, settings: Settings) -> tuple[pa.Table, ScoreReport]:
    """The scores of every customer in the feature table on `as_of` (not yet written)."""
    champion = aliased_version(CHAMPION, settings)
    if champion is None:
        raise NoModel(f"model {settings.lakehouse_ml_model!r} has no champion: train and promote one first.")
    challenger = aliased_version(CHALLENGER, settings)
    features = load_features(as_of, settings)
    if features.num_rows == 0:
        raise FileNotFoundError(f"no feature rows as of {as_of}: build the features of that date first.")
    ids = features["customer_id"].to_numpy()
    challenger_version = str(challenger.version) if challenger else None
    key = experiment_key(champion.name, str(champion.version), challenger_version)
    to_challenger = challenger_mask(ids, key, settings.lakehouse_ml_challenger_share)
    names = feature_names(champion)
    scores = predict(load_version(champion, settings), to_matrix(features, names))
    if challenger is not None and to_challenger.any():
        X = to_matrix(features.filter(pa.array(to_challenger)), feature_names(challenger))
        scores[to_challenger] = predict(load_version(challenger, settings), X)
    arm = np.where(to_challenger, CHALLENGER_ARM, CHAMPION_ARM)
    version = np.where(to_challenger, str(challenger.version) if challenger else "", str(champion.version))
    table = pa.table(
        {
            "customer_id": ids,
            "as_of_date": features["as_of_date"],
            "score": scores,
            "model_name": pa.array([champion.name] * len(ids)),
            "model_version": version,
            "arm": arm,
            "experiment": pa.array([key] * len(ids), pa.string()),
        },
        schema=SCORES_SCHEMA,
    )
    report = ScoreReport(
        as_of,
        len(ids),
        -1,
        champion.name,
        str(champion.version),
        challenger_version,
        key,
        int(to_challenger.sum()),
        features={n: to_matrix(features, [n])[:, 0] for n in names},
        scores=scores[~to_challenger],
    )
    return table, report


def audit_scores(candidate: Candidate, expected_rows: int, settings: Settings) -> list[str]:
    """What is wrong with the candidate's rows (empty: publish)."""
    sql = f"""
        select
            count(*),
            count(distinct customer_id),
            count(*) filter (where score is null or isnan(score) or score < 0 or score > 1),
            count(*) filter (where model_version is null or model_version = ''),
        from delta_scan('{candidate.uri}')
    """
    with duckdb_session(settings=settings) as con:
        row = con.execute(sql).fetchone()
    rows, distinct, bad_scores, unversioned = row if row else (0, 0, 0, 0)
    problems = []
    if rows != expected_rows:
        problems.append(f"{rows} score rows for {expected_rows} customers with features")
    if distinct != rows:
        problems.append(f"{rows - distinct} customers scored twice")
    if bad_scores:
        problems.append(f"{bad_scores} scores missing or outside [0, 1]")
    if unversioned:
        problems.append(f"{unversioned} scores without a model version")
    return problems


def write_scores(table: pa.Table, as_of: date, settings: Settings) -> int:
    """Write-audit-publish the date's scores; returns the scores table's new version."""
    location = scores_table_uri(settings)
    existing = open_table(location, settings)
    run_id = new_run_id()
    candidate = Candidate(
        model=SCORES,
        schema=CATALOG_SCHEMA,
        location=location,
        run_id=run_id,
        mode="merge",
        base_version=None if existing is None else int(existing.version()),
        partition_by=("as_of_date",),
        unique_key=("customer_id", "as_of_date"),
        commit_metadata={"lakehouse_scores_as_of": as_of.isoformat()},
    )
    written = write_candidate(candidate, table.to_reader(), settings)
    problems = audit_scores(written, table.num_rows, settings)
    if problems:
        withhold_run(run_id, as_of.isoformat(), problems, settings=settings)
        raise ScoresWithheld(
            f"scores as of {as_of} withheld ({'; '.join(problems)}); the candidate stays at {written.uri}: "
            "check the features of that date and the champion model, then score again."
        )
    decision = write_decision(RunDecision(run_id, "publish", as_of.isoformat()), settings)
    version = publish_candidate(written, settings)
    settings.catalog_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb_session(str(settings.catalog_path), settings) as catalog:
        pin_views(catalog, [(CATALOG_SCHEMA, SCORES, location, version)])
    decision.decision, decision.versions = "published", {SCORES: version}
    write_decision(decision, settings)
    delete_tree(written.uri, settings)
    return version


def score_customers(as_of: date, settings: Settings | None = None) -> ScoreReport:
    """Score every customer as of `as_of` and publish the scores (idempotent per date)."""
    settings = settings or get_settings()
    table, report = compute_scores(as_of, settings)
    report.table_version = write_scores(table, as_of, settings)
    return report


def read_scores(as_of: date, settings: Settings | None = None) -> pa.Table:
    """The published scores of one date, by customer."""
    settings = settings or get_settings()
    with duckdb_session(settings=settings) as con:
        sql = f"select * from delta_scan('{scores_table_uri(settings)}') where as_of_date = $d"
        return con.execute(sql + " order by customer_id", {"d": as_of}).to_arrow_table()
