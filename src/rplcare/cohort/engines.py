"""Where the SQL runs: DuckDB in process (the default), or Spark for clusters.

An engine loads the input as `raw` (with `_row`, the 0-based input order), runs statements into
named views or tables, hands small results back as Python rows, and writes Parquet. It does no
clinical logic: that is `sql.py` for both.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

from rplcare.cohort.sql import DUCKDB, SPARK, Dialect
from rplcare.errors import InputError

Rows = list[dict[str, Any]]


def input_format(path: Path) -> str:
    suffix = "".join(path.suffixes[-2:]).lower() if path.is_file() else path.suffix.lower()
    if path.is_dir() or suffix.endswith(".parquet"):
        return "parquet"
    if suffix.endswith((".csv", ".csv.gz")):
        return "csv"
    raise InputError(f"{path}: give a .parquet or .csv file (or a directory of Parquet files)")


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class Engine(Protocol):
    name: str
    dialect: Dialect

    def load(self, path: Path) -> list[str]: ...
    def table(self, name: str, query: str, *, materialise: bool = False) -> None: ...
    def rows(self, query: str) -> Rows: ...
    def add_rows(self, name: str, rows: Rows, schema: dict[str, str]) -> None: ...
    def write_parquet(self, query: str, path: Path) -> None: ...
    def close(self) -> None: ...


class DuckDBEngine:
    name = "duckdb"
    dialect = DUCKDB

    def __init__(self, memory_limit: str | None = None) -> None:
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("SET preserve_insertion_order = true")
        if memory_limit:
            try:  # DuckDB spills sorts, joins and aggregates to disk beyond the limit
                self.con.execute("SET memory_limit = ?", [memory_limit])
            except duckdb.Error as exc:
                raise InputError(f"--memory-limit {memory_limit!r}: {exc}") from None

    def load(self, path: Path) -> list[str]:
        if not path.exists():
            raise InputError(f"{path}: no such file")
        reader = (
            f"read_parquet({_quote(path / '*.parquet' if path.is_dir() else path)})"
            if input_format(path) == "parquet"
            else f"read_csv({_quote(path)}, header = true, all_varchar = true)"
        )
        try:
            self.con.execute(
                f"CREATE OR REPLACE TABLE raw AS SELECT *, ROW_NUMBER() OVER () - 1 AS _row "
                f"FROM {reader}"
            )
        except Exception as exc:  # duckdb.Error: unreadable or malformed file
            raise InputError(f"{path}: cannot read ({str(exc).splitlines()[0]})") from None
        return [r[0] for r in self.con.execute("DESCRIBE raw").fetchall()]

    def table(self, name: str, query: str, *, materialise: bool = False) -> None:
        kind = "TABLE" if materialise else "VIEW"
        self.con.execute(f"CREATE OR REPLACE {kind} {name} AS {query}")

    def rows(self, query: str) -> Rows:
        cursor = self.con.execute(query)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def add_rows(self, name: str, rows: Rows, schema: dict[str, str]) -> None:
        import pyarrow as pa

        arrow = pa.Table.from_pylist(rows, schema=_arrow_schema(schema))
        self.con.register(f"{name}_arrow", arrow)
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")

    def write_parquet(self, query: str, path: Path) -> None:
        self.con.execute(f"COPY ({query}) TO {_quote(path)} (FORMAT PARQUET)")

    def close(self) -> None:
        self.con.close()


class SparkEngine:
    name = "spark"
    dialect = SPARK

    def __init__(self, master: str | None = None) -> None:
        from pyspark.sql import SparkSession

        cores = os.cpu_count() or 2
        self.spark = (
            SparkSession.builder.master(master or f"local[{cores}]")
            .appName("rplcare-cohort")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", str(max(4, 2 * cores)))
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
        self.spark.sparkContext.setLogLevel("ERROR")
        self._cached: list[Any] = []

    def load(self, path: Path) -> list[str]:
        from pyspark.sql.types import LongType, StructField, StructType

        if not path.exists():
            raise InputError(f"{path}: no such file")
        reader = self.spark.read
        try:
            df = (
                reader.parquet(str(path))
                if input_format(path) == "parquet"
                else reader.option("header", "true").csv(str(path))
            )
            # Consecutive input positions (monotonically_increasing_id has gaps).
            schema = StructType([*df.schema.fields, StructField("_row", LongType(), False)])
            indexed = df.rdd.zipWithIndex().map(lambda pair: (*pair[0], pair[1]))
            raw = self.spark.createDataFrame(indexed, schema)
        except Exception as exc:  # AnalysisException and the like: unreadable input
            raise InputError(f"{path}: cannot read ({str(exc).splitlines()[0]})") from None
        raw.cache()
        self._cached.append(raw)
        raw.createOrReplaceTempView("raw")
        return [*df.columns, "_row"]

    def table(self, name: str, query: str, *, materialise: bool = False) -> None:
        df = self.spark.sql(query)
        if materialise:
            df = df.cache()
            self._cached.append(df)
        df.createOrReplaceTempView(name)

    def rows(self, query: str) -> Rows:
        return [r.asDict() for r in self.spark.sql(query).collect()]

    def add_rows(self, name: str, rows: Rows, schema: dict[str, str]) -> None:
        ddl = ", ".join(f"{k} {v}" for k, v in schema.items())
        ordered = [tuple(r[k] for k in schema) for r in rows]
        self.spark.createDataFrame(ordered, ddl).createOrReplaceTempView(name)

    def write_parquet(self, query: str, path: Path) -> None:
        # Spark writes a directory of part files, the format's form for distributed writers.
        self.spark.sql(query).write.mode("overwrite").parquet(str(path))

    def close(self) -> None:
        for df in self._cached:
            df.unpersist()
        self._cached.clear()


def _arrow_schema(schema: dict[str, str]) -> Any:
    import pyarrow as pa

    types = {
        "STRING": pa.string(),
        "INTEGER": pa.int32(),
        "BIGINT": pa.int64(),
        "DOUBLE": pa.float64(),
    }
    return pa.schema([(k, types[v]) for k, v in schema.items()])


def make_engine(name: str, memory_limit: str | None = None) -> Engine:
    if name == "duckdb":
        return DuckDBEngine(memory_limit)
    if memory_limit:
        raise InputError("--memory-limit is for the duckdb engine (Spark has its own settings)")
    if name == "spark":
        return SparkEngine()
    raise InputError(f"unknown engine {name!r}; use duckdb or spark")
