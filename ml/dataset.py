"""The training set: the feature and label tables joined on (customer_id, as_of_date), read at pinned Delta
versions so a model records exactly the data it saw, as numpy arrays for scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.lake import duckdb_session, open_table
from lakehouse.settings import Settings, get_settings
from ml.features import feature_table_uri
from ml.labels import label_table_uri

KEYS = ("customer_id", "as_of_date")


@dataclass(frozen=True)
class Dataset:
    feature_names: tuple[str, ...]
    X: np.ndarray  # float64, NaN where a feature is null
    y: np.ndarray  # 0/1
    as_of: np.ndarray  # datetime64[D] per row
    customer_id: np.ndarray
    feature_version: int
    label_version: int

    def rows(self, mask: np.ndarray) -> Dataset:
        return Dataset(
            self.feature_names,
            self.X[mask],
            self.y[mask],
            self.as_of[mask],
            self.customer_id[mask],
            self.feature_version,
            self.label_version,
        )

    @property
    def dates(self) -> list[date]:
        return [d.astype(object) for d in np.unique(self.as_of)]

    def select(self, names: Sequence[str]) -> Dataset:
        """The same rows with the feature columns `names` (a model's inputs), in that order."""
        missing = [n for n in names if n not in self.feature_names]
        if missing:
            raise KeyError(f"the data lacks the model's features {missing}: retrain the model")
        idx = [self.feature_names.index(n) for n in names]
        return Dataset(
            tuple(names),
            self.X[:, idx],
            self.y,
            self.as_of,
            self.customer_id,
            self.feature_version,
            self.label_version,
        )

    def column(self, name: str) -> np.ndarray:
        return self.X[:, self.feature_names.index(name)]


def table_version(uri: str, settings: Settings) -> int:
    table = open_table(uri, settings)
    if table is None:
        raise FileNotFoundError(f"No Delta table at {uri}: build the features and labels first.")
    return int(table.version())


def feature_columns(table: pa.Table) -> tuple[str, ...]:
    """The model's inputs: every numeric column of the feature table but the keys."""
    return tuple(
        f.name
        for f in table.schema
        if f.name not in KEYS and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
    )


def to_matrix(table: pa.Table, names: Sequence[str]) -> np.ndarray:
    """The columns `names` of `table` as a float64 matrix (null -> NaN)."""
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise KeyError(f"the feature table lacks {missing}: rebuild the features or retrain the model")
    if not names:
        return np.empty((table.num_rows, 0))
    return np.column_stack(
        [pc.cast(table[n], pa.float64()).to_numpy(zero_copy_only=False) for n in names]
    ).astype(float)


def load_dataset(
    settings: Settings | None = None,
    dates: Sequence[date] | None = None,
    versions: tuple[int, int] | None = None,
) -> Dataset:
    """Labelled feature rows (every labelled date, or `dates`) at the tables' current versions, or at
    `versions` = (feature version, label version) to reproduce a model's data."""
    settings = settings or get_settings()
    f_uri, l_uri = feature_table_uri(settings), label_table_uri(settings)
    f_ver, l_ver = versions or (table_version(f_uri, settings), table_version(l_uri, settings))
    where = ""
    if dates is not None:
        where = "where f.as_of_date in (" + ", ".join(f"date '{d.isoformat()}'" for d in dates) + ")"
    sql = f"""
        select f.*, l.label
        from delta_scan('{f_uri}', version => {f_ver}) as f
        join delta_scan('{l_uri}', version => {l_ver}) as l using (customer_id, as_of_date)
        {where}
        order by f.as_of_date, f.customer_id
    """
    with duckdb_session(settings=settings) as con:
        table = con.execute(sql).to_arrow_table()
    names = feature_columns(table.drop_columns(["label"]))
    return Dataset(
        names,
        to_matrix(table, names),
        pc.cast(table["label"], pa.int8()).to_numpy().astype(int),
        table["as_of_date"].to_numpy(),
        table["customer_id"].to_numpy(),
        f_ver,
        l_ver,
    )


def time_split(data: Dataset, holdout_share: float = 0.3) -> tuple[Dataset, Dataset]:
    """Train on the earlier as_of dates, hold out the latest `holdout_share` of them (at least one)."""
    dates = np.unique(data.as_of)
    if len(dates) < 2:
        raise ValueError(f"a time-based split needs two or more labelled dates, found {len(dates)}")
    holdout = max(1, round(len(dates) * holdout_share))
    first_holdout = dates[len(dates) - holdout]
    return data.rows(data.as_of < first_holdout), data.rows(data.as_of >= first_holdout)
