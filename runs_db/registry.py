"""The run registry: validated ingest, queries as pandas frames, pools, buckets and fits.

    from runs_db import connect
    registry = connect("curascale.duckdb")
    registry.ingest("runs.csv", mapping={"params": "N"}, constants={"family": "mine"})
    frame = registry.frame(["params", "tokens"], target="loss", where="family = 'mine'")

Every `where` goes through `runs_db.where.check_where` (one boolean condition over the runs'
columns) and every connection has DuckDB's external access disabled (`runs_db.db`). Run identity
and duplicates: see `runs_db.ingest` (the natural key) and `Registry.duplicates`.
"""

from __future__ import annotations

from runs_db.text import quoted

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from curascale.errors import IngestError, UserError
from runs_db.columns import RUN_COLUMNS
from runs_db.db import DEFAULT_LOCK_TIMEOUT_S, Database
from runs_db.ingest import RunRecord, ingest_notes, read_runs
from runs_db.where import UnknownColumn, check_where, unknown_column_hint

RUN_FIELDS = list(RUN_COLUMNS) + ["config", "source_file", "content_hash"]
EVAL_FIELDS = ["run_id", "metric", "value", "split", "task", "step"]

# A run's observation: every run column but run_id (config and source file aside) and all its
# evals. Two runs with the same observation are the same measurement stored twice.
OBSERVATION_SQL = (
    "SELECT r.run_id, r.source_file, md5(to_json([" + ", ".join(f"r.{c}::VARCHAR" for c in RUN_COLUMNS if c != "run_id") + ", e.evals])) AS observation "
    "FROM runs r LEFT JOIN (SELECT run_id, string_agg(concat_ws('|', metric, split, task, step, value), ';' ORDER BY metric, split, task, step) AS evals "
    "FROM evals GROUP BY run_id) e USING (run_id)"
)


@dataclass(frozen=True)
class IngestReport:
    file: str
    inserted: int
    replaced: int
    unchanged: int
    evals: int
    repeated_rows: int = 0  # rows identical to an earlier row of the file, stored once
    replaced_duplicates: int = 0  # stored runs under other ids with the same inputs and evals, replaced
    notes: tuple = ()  # curascale.notes.Note values about the file's runs (runs_db.ingest.ingest_notes), e.g. unit-mistake


@dataclass(frozen=True)
class Deletion:
    runs: int
    evals: int
    done: bool  # False: only counted (a dry run)


def _eval_choices(table: pd.DataFrame) -> str:
    """The coordinates that tell a run's evals apart, with (up to 8 of) their values: "a task
    (average, imagenet1k, ...)"; a split or task that only some evals give shows as (none)."""
    choices = []
    for coordinate in ("split", "task"):
        values = sorted({value or "(none)" for value in table[f"eval_{coordinate}"]})
        if len(values) > 1:
            choices.append(f"a {coordinate} ({', '.join(values[:8])}{', ...' if len(values) > 8 else ''})")
    return " or ".join(choices) or "one eval per run (they differ in step)"


class Registry:
    """A handle on one registry database (a file path or ":memory:")."""

    def __init__(self, path: str | Path | None = None, *, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S):
        self.db = Database(path, lock_timeout_s=lock_timeout_s)

    @property
    def path(self) -> str:
        return self.db.path

    # ---- ingest -------------------------------------------------------------------------
    def ingest(
        self,
        file: str | Path,
        *,
        mapping: Mapping[str, str] | None = None,
        constants: Mapping[str, Any] | None = None,
        replace: bool = False,
        on_stage: Callable[[str], None] | None = None,
        table: pd.DataFrame | None = None,
        run_prefix: str = "",
    ) -> IngestReport:
        """Validate every row of `file` (or of `table`, rows already read, which `file` names),
        then write them in one transaction.

        Rows identical to stored runs are skipped (re-ingesting a file is a no-op); a row whose
        run id is stored with other content is an error unless `replace`. `on_stage` is called
        with "validated", "written" and "committed" as the work proceeds. `table`: rows already
        read (runs_db.formats, curascale.datasets), validated the same way; `file` names them.
        `run_prefix` goes before every run id (runs_db.ingest.read_runs).
        """
        notify = on_stage or (lambda stage: None)
        records = read_runs(file, mapping, constants, table=table, run_prefix=run_prefix)
        notify("validated")
        return self.store(records, file, replace=replace, on_stage=notify)

    def store(self, records: Sequence[RunRecord], file: str | Path, *, replace: bool = False, on_stage: Callable[[str], None] | None = None) -> IngestReport:
        """Write validated records (`runs_db.ingest.read_runs`) of `file` in one transaction, with
        the rules of `ingest`."""
        notify = on_stage or (lambda stage: None)
        with self.db.transaction() as con:
            ids = pd.DataFrame({"run_id": [r.run["run_id"] for r in records]})
            con.register("incoming_ids", ids)
            stored = dict(con.execute("SELECT run_id, content_hash FROM runs JOIN incoming_ids USING (run_id)").fetchall())
            con.unregister("incoming_ids")
            fresh, replaced, unchanged = [], [], 0
            for record in records:
                old = stored.get(record.run["run_id"])
                if old is None:
                    fresh.append(record)
                elif old == record.content_hash:
                    unchanged += 1
                elif replace:
                    replaced.append(record)
                else:
                    raise IngestError(
                        str(file),
                        f"run id {quoted(record.run['run_id'])} is already stored with other values: give the new run another id (--set run_id=ID for one run, --run-prefix PREFIX/ for a file or folder of runs) or pass --replace to overwrite the stored one",
                        row=record.row,
                        column="run_id",
                    )
            if replaced:
                self._delete_ids(con, [r.run["run_id"] for r in replaced])
            written = fresh + replaced
            evals = self._insert(con, written, str(file))
            twins = self._stored_twins(con, written)
            if twins and not replace:
                record, stored_id, stored_file = twins[0]
                raise IngestError(
                    str(file),
                    f"duplicates {len(twins)} stored run(s), e.g. {quoted(stored_id)} from {stored_file} (same inputs and evals under another id): "
                    "pass --replace to replace them, or see `curascale runs duplicates`",
                    row=record.row,
                )
            if twins:
                self._delete_ids(con, sorted({stored_id for _, stored_id, _ in twins}))
            notify("written")
        notify("committed")
        repeated = sum(len(r.repeated_rows) for r in records)
        return IngestReport(str(file), inserted=len(fresh), replaced=len(replaced), unchanged=unchanged, evals=evals, repeated_rows=repeated,
                            replaced_duplicates=len({t[1] for t in twins}), notes=tuple(ingest_notes(list(records))))

    @staticmethod
    def _stored_twins(con, records: Sequence[RunRecord]) -> list[tuple[RunRecord, str, str]]:
        """(incoming record, stored run id, its source file) for every stored run, not among the
        incoming ones, with the same observation (see `OBSERVATION_SQL`) as an incoming run."""
        if not records:
            return []
        by_id = {r.run["run_id"]: r for r in records}
        con.register("written_ids", pd.DataFrame({"run_id": list(by_id)}))
        rows = con.execute(
            f"WITH o AS ({OBSERVATION_SQL}) "
            "SELECT n.run_id, s.run_id, s.source_file FROM o n JOIN o s USING (observation) "
            "WHERE n.run_id IN (SELECT run_id FROM written_ids) AND s.run_id NOT IN (SELECT run_id FROM written_ids) "
            "ORDER BY n.run_id, s.run_id"
        ).fetchall()
        con.unregister("written_ids")
        return sorted(((by_id[new], old, source) for new, old, source in rows), key=lambda t: (t[0].row, t[1]))

    @staticmethod
    def _delete_ids(con, run_ids: Sequence[str]) -> None:
        con.register("doomed_ids", pd.DataFrame({"run_id": list(run_ids)}, dtype=object))
        con.execute("DELETE FROM evals WHERE run_id IN (SELECT run_id FROM doomed_ids)")
        con.execute("DELETE FROM runs WHERE run_id IN (SELECT run_id FROM doomed_ids)")
        con.unregister("doomed_ids")

    @staticmethod
    def _insert(con, records: Sequence[RunRecord], source_file: str) -> int:
        if not records:
            return 0
        runs = pd.DataFrame(
            [{**{f: r.run.get(f) for f in RUN_COLUMNS}, "config": r.run.get("config"), "source_file": source_file, "content_hash": r.content_hash} for r in records],
            columns=RUN_FIELDS,
        )
        evals = pd.DataFrame([{"run_id": r.run["run_id"], **e} for r in records for e in r.evals], columns=EVAL_FIELDS)
        con.register("incoming_runs", runs)
        con.register("incoming_evals", evals)
        con.execute(f"INSERT INTO runs ({', '.join(RUN_FIELDS)}) SELECT {', '.join(RUN_FIELDS)} FROM incoming_runs")
        con.execute(f"INSERT INTO evals ({', '.join(EVAL_FIELDS)}) SELECT {', '.join(EVAL_FIELDS)} FROM incoming_evals")
        con.unregister("incoming_runs")
        con.unregister("incoming_evals")
        return len(evals)

    # ---- queries ------------------------------------------------------------------------
    def query(self, sql: str, parameters: Sequence[Any] = ()) -> pd.DataFrame:
        """Run trusted SQL (the registry's own) on a read-only connection; a DuckDB error becomes
        a one-line `DatabaseError`."""
        with self.db.connection(read_only=True) as con:
            return con.execute(sql, list(parameters)).df()

    def _matching(self, where: str | None) -> str:
        """The runs a user's condition selects, as a subquery (checked by `check_where`); an
        unknown column that is a key of the runs' config is pointed at config->>'key'."""
        if where is None:
            return "runs"
        try:
            return f"({check_where(where).select})"
        except UnknownColumn as error:
            keys = frozenset(self.query("SELECT DISTINCT unnest(json_keys(config)) AS k FROM runs WHERE config IS NOT NULL")["k"])
            if error.name not in keys:
                raise
            raise UserError(f"where {quoted(where)}: unknown column {quoted(error.name)}: {unknown_column_hint(error.name, (), keys)}") from None

    def runs(self, where: str | None = None) -> pd.DataFrame:
        """Runs (all columns) matching the condition `where` (see `runs_db.where`), by run id."""
        return self.query(f"SELECT * FROM {self._matching(where)} AS r ORDER BY run_id")

    def delete(self, where: str, *, dry_run: bool = False) -> Deletion:
        """Delete the runs matching `where` and their evals, in one transaction; `dry_run` only
        counts them (read-only: a missing registry is an error, never created)."""
        matching = self._matching(where)
        count = f"SELECT count(*) AS runs, (SELECT count(*) FROM evals WHERE run_id IN (SELECT run_id FROM {matching} AS m)) AS evals FROM {matching} AS r"
        counted = self.query(count)
        if dry_run:
            return Deletion(runs=int(counted.runs[0]), evals=int(counted.evals[0]), done=False)
        with self.db.transaction() as con:
            runs, evals = con.execute(count).fetchall()[0]
            self._delete_ids(con, [run_id for (run_id,) in con.execute(f"SELECT run_id FROM {matching} AS r").fetchall()])
        return Deletion(runs=int(runs), evals=int(evals), done=True)

    def duplicates(self) -> pd.DataFrame:
        """Runs stored more than once: groups of runs with the same observation (every run column
        but run_id, plus every eval; config and source file aside), groups in order of their
        smallest run id, oldest run first within a group.
        Columns: group (1, 2, ...), run_id, family, source_file, ingested_at."""
        table = self.query(
            f"WITH o AS ({OBSERVATION_SQL}), twice AS (SELECT observation, min(run_id) AS first FROM o GROUP BY observation HAVING count(*) > 1) "
            "SELECT dense_rank() OVER (ORDER BY t.first) AS grp, o.run_id, r.family, o.source_file, r.ingested_at "
            "FROM o JOIN twice t USING (observation) JOIN runs r USING (run_id) ORDER BY t.first, r.ingested_at, o.run_id"
        )
        return table.rename(columns={"grp": "group"})

    def evals(self, run_id: str) -> pd.DataFrame:
        return self.query("SELECT metric, value, split, task, step FROM evals WHERE run_id = ? ORDER BY metric, split, task, step", [run_id])

    def show(self, run_id: str) -> dict[str, Any]:
        run = self.query("SELECT * FROM runs WHERE run_id = ?", [run_id])
        if run.empty:
            raise UserError(f"no run with id {quoted(run_id)}")
        record = {k: (None if pd.isna(v) else v) for k, v in run.iloc[0].to_dict().items() if not isinstance(v, (list, dict))}
        record["evals"] = self.evals(run_id).to_dict(orient="records")
        return record

    def frame(
        self,
        columns: Sequence[str] | None = None,
        *,
        target: str = "loss",
        where: str | None = None,
        split: str | None = None,
        task: str | None = None,
        step: int = -1,
    ) -> pd.DataFrame:
        """Runs with the `target` metric as a column: the table a law is fitted on.

        `columns` are run columns (default: all); `where` is SQL over the runs table, e.g.
        "family = 'chinchilla' AND config->>'in_besiroglu_fit' = '1'". One eval per run must
        match metric/split/task/step, else an error asks for a split or task.
        """
        unknown = [c for c in columns or () if c not in RUN_COLUMNS]
        if unknown:
            raise UserError(f"unknown run columns: {', '.join(unknown)} (known: {', '.join(RUN_COLUMNS)})")
        selected = ", ".join(f"r.{c}" for c in (["run_id"] + [c for c in columns if c != "run_id"] if columns else RUN_FIELDS))
        conditions = ["e.metric = ?", "e.step = ?"]
        parameters: list[Any] = [target, step]
        for name, value in (("split", split), ("task", task)):
            if value is not None:
                conditions.append(f"e.{name} = ?")
                parameters.append(value)
        sql = (
            f"SELECT {selected}, e.split AS eval_split, e.task AS eval_task, e.value AS {target} "
            f"FROM {self._matching(where)} AS r JOIN evals e USING (run_id) WHERE {' AND '.join(conditions)} ORDER BY r.run_id, e.split, e.task"
        )
        table = self.query(sql, parameters)
        if table["run_id"].duplicated().any():
            raise UserError(f"several '{target}' evals per run: choose {_eval_choices(table)}")
        return table.drop(columns=["eval_split", "eval_task"]).reset_index(drop=True)

    # ---- pools, buckets, fits -----------------------------------------------------------
    def register_pool(self, name: str, *, source: str, size_samples: int, fingerprint: str) -> None:
        with self.db.transaction() as con:
            con.execute(
                "INSERT OR REPLACE INTO pools (name, source, size_samples, fingerprint) VALUES (?, ?, ?, ?)",
                [name, source, int(size_samples), fingerprint],
            )

    def register_buckets(self, pool: str, buckets: Sequence[Mapping[str, Any]]) -> None:
        """Each bucket: name, score_column, quantile_lo, quantile_hi, size_samples."""
        with self.db.transaction() as con:
            if not con.execute("SELECT count(*) FROM pools WHERE name = ?", [pool]).fetchone()[0]:
                raise UserError(f"no pool named {quoted(pool)}: register the pool first")
            for bucket in buckets:
                con.execute(
                    "INSERT OR REPLACE INTO buckets (pool, name, score_column, quantile_lo, quantile_hi, size_samples) VALUES (?, ?, ?, ?, ?, ?)",
                    [pool, bucket["name"], bucket["score_column"], float(bucket["quantile_lo"]), float(bucket["quantile_hi"]), int(bucket["size_samples"])],
                )

    def save_fit(self, *, fit_id: str, law: str, law_version: str, parameters: Mapping[str, float], objective: float, n_points: int, data_hash: str, artifact: Mapping[str, Any]) -> None:
        with self.db.transaction() as con:
            con.execute(
                "INSERT OR REPLACE INTO fits (fit_id, law, law_version, parameters, objective, n_points, data_hash, artifact) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [fit_id, law, law_version, json.dumps(dict(parameters)), float(objective), int(n_points), data_hash, json.dumps(artifact)],
            )

    def save_fit_artifact(self, fit_id: str, artifact: Mapping[str, Any]) -> None:
        """Save a fit artifact (`Fit.to_dict()`); a fit of published constants has no objective
        (stored as NaN) and no points (0)."""
        objective = artifact.get("objective")
        self.save_fit(
            fit_id=fit_id, law=artifact["law"], law_version=artifact["law_version"], parameters=artifact["params"],
            objective=float("nan") if objective is None else objective, n_points=artifact.get("n_points") or 0,
            data_hash=artifact.get("data_hash") or "", artifact=artifact,
        )

    def latest_fit(self, laws: Sequence[str]) -> tuple[str, dict[str, Any]]:
        """(fit_id, artifact) of the newest saved fit of any of `laws`."""
        rows = self.query(
            f"SELECT fit_id, artifact FROM fits WHERE law IN ({', '.join('?' * len(laws))}) AND artifact IS NOT NULL ORDER BY created_at DESC, fit_id DESC LIMIT 1",
            list(laws),
        )
        if rows.empty:
            raise UserError(f"{self.path}: no saved fit of {' or '.join(laws)}: run `curascale fit LAW --db {self.path}` first")
        return str(rows.fit_id[0]), json.loads(rows.artifact[0])

    def latest_fit_per_law(self, *, exclude: Sequence[str] = ()) -> list[tuple[str, dict[str, Any]]]:
        """(fit_id, artifact) of the newest saved fit of every law but those in `exclude`, by law name."""
        laws = [law for law in self.query("SELECT DISTINCT law FROM fits WHERE artifact IS NOT NULL ORDER BY law").law.tolist() if law not in exclude]
        return [self.latest_fit([law]) for law in laws]

    def bucket_sizes(self, names: Sequence[str]) -> dict[str, float]:
        """Samples in each registered bucket of these names (the newest pool's, if several)."""
        if not names:
            return {}
        rows = self.query(
            f"SELECT b.name, b.size_samples FROM buckets b JOIN pools p ON p.name = b.pool WHERE b.name IN ({', '.join('?' * len(names))}) ORDER BY p.created_at",
            list(names),
        )
        return {str(name): float(size) for name, size in zip(rows.name, rows.size_samples)}

    def export(self, path: str | Path, fmt: str) -> int:
        """Runs joined with their evals, one row per eval, as csv or parquet, written by
        `curascale.io` ("-": standard output; a symlink, device or FIFO is written through)."""
        from curascale.io import open_atomic

        if fmt not in ("csv", "parquet"):
            raise UserError(f"unknown export format {quoted(fmt)}: use csv or parquet")
        table = self.query(
            "SELECT r.*, e.metric, e.value, e.split, e.task, e.step FROM runs r JOIN evals e USING (run_id) ORDER BY r.run_id, e.metric, e.split, e.task, e.step"
        ).drop(columns=["ingested_at"])
        with open_atomic(path, "w" if fmt == "csv" else "wb") as handle:
            if fmt == "csv":
                table.to_csv(handle, index=False)
            else:
                table.to_parquet(handle, index=False)
        return len(table)


def connect(path: str | Path | None = None, *, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S) -> Registry:
    """The registry at `path` (default: $CURASCALE_DB or ./curascale.duckdb; ":memory:" for none)."""
    return Registry(path, lock_timeout_s=lock_timeout_s)
