"""The cohort computation as SQL, written once and run by DuckDB (embedded) and Spark SQL.

The statements mirror the per-case engine step by step (`domain/history.py`,
`engine/definitions.py`, `engine/assess.history_sequence`): chronology by end date then input
order, loss kinds from the knowledge base's trimester boundary, consecutive losses counted back
from the latest pregnancy (ectopic and molar passed over), each definition's counted losses,
its second-trimester rule, discretion threshold and primary/secondary kind. The few constructs
the two dialects spell differently are the methods of `Dialect`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rplcare.cohort.rules import (
    BEFORE_VIABILITY,
    BIRTH,
    CLINICAL_LOSS,
    NEITHER,
    OUTCOMES,
    CohortRules,
    Definition,
)

REQUIRED = ("woman_id", "outcome", "end_date", "gestational_weeks")
OPTIONAL = ("birth_date", "age", "heartbeat_seen")
MAX_PROBLEMS = 50  # problems listed in an error; the total is counted


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


@dataclass(frozen=True)
class Dialect:
    name: str

    def try_cast(self, expr: str, sql_type: str) -> str:
        return f"TRY_CAST({expr} AS {sql_type})"

    def days_between(self, start: str, end: str) -> str:
        if self.name == "spark":
            return f"DATEDIFF({end}, {start})"
        return f"DATEDIFF('day', {start}, {end})"

    def ordered_concat(self, expr: str) -> str:
        """Concatenate `expr` over a woman's pregnancies, oldest first (an aggregate)."""
        if self.name == "spark":
            return (
                "ARRAY_JOIN(TRANSFORM(ARRAY_SORT(COLLECT_LIST(NAMED_STRUCT("
                f"'d', end_date, 'r', _row, 'x', {expr}))), s -> s.x), '')"
            )
        return f"STRING_AGG({expr}, '' ORDER BY end_date, _row)"

    def prior_concat(self, expr: str) -> str:
        """Concatenate `expr` over the pregnancies before this one (a window)."""
        frame = (
            "OVER (PARTITION BY woman_id ORDER BY end_date, _row "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
        )
        if self.name == "spark":
            return f"CONCAT_WS('', COLLECT_LIST({expr}) {frame})"
        return f"COALESCE(STRING_AGG({expr}, '') {frame}, '')"

    def date_literal(self, day: date) -> str:
        return f"DATE '{day.isoformat()}'"


DUCKDB = Dialect("duckdb")
SPARK = Dialect("spark")


@dataclass(frozen=True)
class Queries:
    """The statements for one cohort: `raw` (the input with `_row`) in, views out."""

    rules: CohortRules
    dialect: Dialect
    as_of: date
    columns: frozenset[str]

    @property
    def _as_of(self) -> str:
        return self.dialect.date_literal(self.as_of)

    def _col(self, name: str, sql_type: str) -> str:
        if name in self.columns:
            return self.dialect.try_cast(name, sql_type)
        return f"CAST(NULL AS {sql_type})"

    def typed(self) -> str:
        """`raw` with types (unparseable values become NULL; `problems` reports them)."""
        d = self.dialect
        return f"""
SELECT CAST(woman_id AS STRING) AS woman_id,
       {self._col("birth_date", "DATE")} AS birth_date,
       {self._col("age", "INTEGER")} AS age,
       CAST(outcome AS STRING) AS outcome,
       {d.try_cast("end_date", "DATE")} AS end_date,
       {d.try_cast("gestational_weeks", "DOUBLE")} AS gestational_weeks,
       _row
FROM raw"""

    def problems(self) -> str:
        """One row per problem: input row (1-based), column, message. Mirrors
        `domain.validation.semantic_problems` for the fields a register row has."""
        r = self.rules
        d = self.dialect
        checks = [
            ("woman_id", "woman_id IS NULL OR TRIM(CAST(woman_id AS STRING)) = ''", "missing"),
            ("outcome", f"outcome IS NULL OR CAST(outcome AS STRING) NOT IN {_in(OUTCOMES)}",
             f"not one of {', '.join(OUTCOMES)}"),
            ("end_date", "t_end IS NULL", "missing or not a date (YYYY-MM-DD)"),
            ("end_date", f"t_end > {self._as_of}", f"after as_of ({self.as_of})"),
            ("gestational_weeks", "t_weeks IS NULL OR t_weeks < 0 OR isnan(t_weeks)",
             "missing or not a number of weeks (0 or more)"),
            ("gestational_weeks", f"t_weeks > {r.max_gestational_weeks!r}",
             f"above the plausible {r.max_gestational_weeks:g}"),
            ("gestational_weeks",
             f"t_weeks >= {r.viability_weeks!r} AND outcome IN {_in(BEFORE_VIABILITY)}",
             f"a loss from {r.viability_weeks:g} weeks is a stillbirth"),
            ("gestational_weeks", f"t_weeks < {r.viability_weeks!r} AND outcome = 'stillbirth'",
             f"a stillbirth is a loss from {r.viability_weeks:g} weeks"),
            ("birth_date/age", "t_birth IS NULL AND t_age IS NULL",
             "give the woman's birth_date or age"),
            ("birth_date/age", "t_birth IS NOT NULL AND t_age IS NOT NULL",
             "give either birth_date or age, not both"),
            ("birth_date", f"t_birth >= {self._as_of}", f"not before as_of ({self.as_of})"),
            ("birth_date",
             f"{d.days_between('t_birth', self._as_of)} / 365.25 > {r.max_age_years}",
             f"implies an age above the plausible {r.max_age_years}"),
            ("end_date", "t_end <= t_birth", "not after the woman's birth_date"),
            ("age", f"t_age < 0 OR t_age > {r.max_age_years}",
             f"not an age from 0 to {r.max_age_years}"),
            ("birth_date/age", "birth_varies OR age_varies OR has_birth + has_age = 2",
             "differs between this woman's rows"),
        ]  # fmt: skip
        if "birth_date" in self.columns:
            checks.append(("birth_date", "birth_date IS NOT NULL AND t_birth IS NULL",
                           "not a date (YYYY-MM-DD)"))  # fmt: skip
        if "age" in self.columns:
            checks.append(("age", "age IS NOT NULL AND t_age IS NULL", "not a whole number"))
        if "heartbeat_seen" in self.columns:
            checks.append((
                "heartbeat_seen",
                f"heartbeat_seen IS NOT NULL AND {d.try_cast('heartbeat_seen', 'BOOLEAN')} IS NULL",
                "not true or false",
            ))  # fmt: skip
        union = "\nUNION ALL\n".join(
            f"SELECT _row + 1 AS input_row, '{col}' AS column_name, "
            f"'{msg.replace(chr(39), chr(39) * 2)}' AS problem FROM checked WHERE {cond}"
            for col, cond, msg in checks
        )
        return f"""
WITH t AS (
  SELECT *, {self._col("birth_date", "DATE")} AS t_birth, {self._col("age", "INTEGER")} AS t_age,
         {d.try_cast("end_date", "DATE")} AS t_end,
         {d.try_cast("gestational_weeks", "DOUBLE")} AS t_weeks
  FROM raw),
checked AS (
  SELECT *,
    MIN(t_birth) OVER w <> MAX(t_birth) OVER w AS birth_varies,
    MIN(t_age) OVER w <> MAX(t_age) OVER w AS age_varies,
    MAX(CASE WHEN t_birth IS NOT NULL THEN 1 ELSE 0 END) OVER w AS has_birth,
    MAX(CASE WHEN t_age IS NOT NULL THEN 1 ELSE 0 END) OVER w AS has_age
  FROM t WINDOW w AS (PARTITION BY woman_id))
{union}"""

    def events(self) -> str:
        """Each pregnancy with its loss kind and position in the woman's chronology; for
        definitions that need consecutive losses, the size of the run each pregnancy is in
        (a birth or a termination starts a new run; other losses, ectopic and molar pregnancies
        do not)."""
        r = self.rules
        consecutive = [g for g in r.definitions if g.consecutive_required]
        runs = "".join(
            f",\n  SUM(CASE WHEN kind IN {_in(g.counted_kinds)} THEN 1 ELSE 0 END) "
            f"OVER (PARTITION BY woman_id, run_id) AS {g.column}__run"
            for g in consecutive
        )
        longest = "".join(
            f",\n  MAX({g.column}__run) OVER (PARTITION BY woman_id) AS {g.column}__longest"
            for g in consecutive
        )
        # The first of the longest runs, as History.longest_run_of picks it.
        first_longest = "".join(
            f",\n  MIN(CASE WHEN {g.column}__run = {g.column}__longest THEN run_id END) "
            f"OVER (PARTITION BY woman_id) AS {g.column}__best_run"
            for g in consecutive
        )
        return f"""
WITH k0 AS (
  SELECT *,
    CASE WHEN outcome = 'biochemical' THEN 'biochemical'
         WHEN outcome IN {_in(CLINICAL_LOSS)} THEN
           CASE WHEN {r.second_trimester_sql("gestational_weeks")} THEN 'second_trimester'
                ELSE 'clinical_first_trimester' END
    END AS kind,
    ROW_NUMBER() OVER (PARTITION BY woman_id ORDER BY end_date, _row) AS pos
  FROM typed),
k1 AS (
  SELECT *, SUM(CASE WHEN kind IS NULL AND outcome NOT IN {_in(NEITHER)} THEN 1 ELSE 0 END)
    OVER (PARTITION BY woman_id ORDER BY pos ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    AS run_id
  FROM k0),
k2 AS (SELECT *{runs} FROM k1),
k3 AS (SELECT *{longest} FROM k2),
k AS (SELECT *{first_longest} FROM k3)
SELECT *,
  CASE WHEN kind IS NOT NULL THEN 'L' WHEN outcome = 'live_birth' THEN 'B' ELSE '' END AS code,
  MAX(CASE WHEN kind IS NULL AND outcome NOT IN {_in(NEITHER)} THEN pos END)
    OVER (PARTITION BY woman_id) AS last_break,
  MAX(CASE WHEN outcome IN {_in(BIRTH)} THEN pos END) OVER (PARTITION BY woman_id) AS last_birth,
  MIN(CASE WHEN outcome IN {_in(BIRTH)} THEN pos END) OVER (PARTITION BY woman_id) AS first_birth
FROM k"""

    def _definition_aggregates(self, g: Definition) -> list[str]:
        counted = _in(g.counted_kinds)
        latest = f"kind IN {counted}"
        if g.single_second_trimester_loss_meets and "second_trimester" not in g.counted_kinds:
            latest += " OR kind = 'second_trimester'"
        main = (
            f"MAX({g.column}__run)"
            if g.consecutive_required
            else f"SUM(CASE WHEN kind IN {counted} THEN 1 ELSE 0 END)"
        )
        if g.consecutive_required:
            latest = f"({latest}) AND run_id = {g.column}__best_run"
        out = [
            f"{main} AS {g.column}__main",
            f"MAX(CASE WHEN {latest} THEN pos END) AS {g.column}__last",
        ]
        if g.discretion_kinds:
            out.append(
                f"SUM(CASE WHEN kind IN {_in(g.discretion_kinds)} THEN 1 ELSE 0 END) "
                f"AS {g.column}__disc"
            )
        return out

    def _definition_columns(self, g: Definition) -> list[str]:
        c = g.column
        extra = g.single_second_trimester_loss_meets and "second_trimester" not in g.counted_kinds
        meets = f"({c}__main >= {g.min_losses}"
        meets += " OR losses_second_trimester > 0)" if g.single_second_trimester_loss_meets else ")"
        counted = f"{c}__main" + (" + losses_second_trimester" if extra else "")
        evaluation = "CASE"
        if g.evaluation_min_losses is not None:
            below = f"{counted} < {g.evaluation_min_losses}"
            evaluation += f" WHEN {meets} AND {below} THEN 'discretionary'"
        evaluation += f" WHEN {meets} THEN 'indicated'"
        if g.discretion_min_losses is not None:
            evaluation += f" WHEN {c}__disc >= {g.discretion_min_losses} THEN 'discretionary'"
        evaluation += " ELSE 'not_indicated' END"
        kind = (
            f"CASE WHEN {meets} AND {counted} > 0 THEN "
            f"CASE WHEN first_birth < {c}__last THEN 'secondary' ELSE 'primary' END END"
        )
        return [
            f"{meets} AS {c}_meets",
            f"CAST({counted} AS INTEGER) AS {c}_losses_counted",
            f"{kind} AS {c}_kind",
            f"{evaluation} AS {c}_evaluation",
        ]

    def women(self) -> str:
        """One row per woman: derived history, each definition, the model's inputs."""
        aggregates = [a for g in self.rules.definitions for a in self._definition_aggregates(g)]
        columns = [c for g in self.rules.definitions for c in self._definition_columns(g)]
        any_meets = " OR ".join(f"{g.column}_meets" for g in self.rules.definitions)
        as_of = self._as_of
        return f"""
WITH w AS (
  SELECT woman_id, MAX(birth_date) AS birth_date, MAX(age) AS age_given,
    CAST(COUNT(*) AS INTEGER) AS pregnancies,
    CAST(SUM(CASE WHEN kind IS NOT NULL THEN 1 ELSE 0 END) AS INTEGER) AS losses_total,
    CAST(SUM(CASE WHEN kind = 'biochemical' THEN 1 ELSE 0 END) AS INTEGER) AS losses_biochemical,
    CAST(SUM(CASE WHEN kind = 'clinical_first_trimester' THEN 1 ELSE 0 END) AS INTEGER)
      AS losses_first_trimester,
    CAST(SUM(CASE WHEN kind = 'second_trimester' THEN 1 ELSE 0 END) AS INTEGER)
      AS losses_second_trimester,
    CAST(SUM(CASE WHEN outcome = 'live_birth' THEN 1 ELSE 0 END) AS INTEGER) AS live_births,
    CAST(SUM(CASE WHEN outcome = 'stillbirth' THEN 1 ELSE 0 END) AS INTEGER) AS stillbirths,
    CAST(SUM(CASE WHEN outcome = 'ectopic' THEN 1 ELSE 0 END) AS INTEGER) AS ectopic,
    CAST(SUM(CASE WHEN outcome = 'molar' THEN 1 ELSE 0 END) AS INTEGER) AS molar,
    CAST(SUM(CASE WHEN outcome = 'termination' THEN 1 ELSE 0 END) AS INTEGER) AS terminations,
    CAST(SUM(CASE WHEN kind IS NOT NULL AND pos > COALESCE(last_break, 0) THEN 1 ELSE 0 END)
      AS INTEGER) AS consecutive_losses,
    CAST(SUM(CASE WHEN kind IS NOT NULL AND pos > COALESCE(last_birth, 0) THEN 1 ELSE 0 END)
      AS INTEGER) AS losses_since_last_birth,
    MIN(first_birth) AS first_birth,
    {self.dialect.ordered_concat("code")} AS history,
    {", ".join(aggregates)}
  FROM events GROUP BY woman_id),
c AS (
  SELECT *, losses_first_trimester + losses_second_trimester AS losses_clinical,
    CAST(COALESCE(age_given, YEAR({as_of}) - YEAR(birth_date) - CASE
      WHEN MONTH({as_of}) < MONTH(birth_date) OR (MONTH({as_of}) = MONTH(birth_date)
           AND DAYOFMONTH({as_of}) < DAYOFMONTH(birth_date)) THEN 1 ELSE 0 END) AS INTEGER) AS age,
    {", ".join(columns)}
  FROM w)
SELECT *, CASE WHEN {any_meets} THEN 'clinic' ELSE 'population' END AS setting FROM c"""

    def pregnancies_for_calibration(self) -> str:
        """Each pregnancy that ended in a miscarriage or a birth, with the woman's history
        before it and her age at its end: what the model predicts, and what happened."""
        d = self.dialect
        as_of = self._as_of
        return f"""
WITH p AS (
  SELECT woman_id, outcome, kind, end_date, birth_date, age,
         {d.prior_concat("code")} AS prior
  FROM events)
SELECT woman_id, prior, CASE WHEN outcome IN {_in(CLINICAL_LOSS)} THEN 1 ELSE 0 END AS loss,
  CAST(COALESCE(
    YEAR(end_date) - YEAR(birth_date) - CASE WHEN MONTH(end_date) < MONTH(birth_date)
      OR (MONTH(end_date) = MONTH(birth_date) AND DAYOFMONTH(end_date) < DAYOFMONTH(birth_date))
      THEN 1 ELSE 0 END,
    age - FLOOR({d.days_between("end_date", as_of)} / 365.25)) AS INTEGER) AS age_at_pregnancy
FROM p WHERE outcome IN {_in((*CLINICAL_LOSS, *BIRTH))}"""
