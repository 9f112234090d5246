"""Command line: `rplcare assess|validate|knowledge`. An adapter: parse, call, print.

Exit codes: 0 success, 2 invalid input (one paragraph on stderr, never a traceback),
3 knowledge base invalid, 1 unexpected internal error.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rplcare.errors import CaseValidationError, InputError, KnowledgeError, RplcareError

if TYPE_CHECKING:
    from datetime import date

    from rich.console import Console

app = typer.Typer(
    help="Decision support for recurrent pregnancy loss. Supports, never replaces, a clinician.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
knowledge_app = typer.Typer(help="Show and check the cited knowledge base.", no_args_is_help=True)
app.add_typer(knowledge_app, name="knowledge")
model_app = typer.Typer(help="Fit and validate the prognosis model.", no_args_is_help=True)
app.add_typer(model_app, name="model")


class Format(StrEnum):
    text = "text"
    json = "json"


def _out() -> Console:
    from rich.console import Console

    # No markup or emoji codes: case text (ids, test details) must print as written, and a
    # stray "[/x]" in it must not crash the report.
    return Console(
        width=None if sys.stdout.isatty() else 140, soft_wrap=False, markup=False, emoji=False
    )


def _day(value: str | None, flag: str, alternative: str = "") -> date:
    """A date option (YYYY-MM-DD); today when not given. The clock is read here, in the
    adapter, never in the domain."""
    from datetime import date

    try:
        return date.fromisoformat(value) if value else date.today()
    except ValueError:
        raise InputError(f"{flag} {value!r} is not a date (YYYY-MM-DD){alternative}") from None


def _err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _fail(exc: RplcareError) -> typer.Exit:
    from rich.console import Console

    err = Console(stderr=True, highlight=False, width=100, markup=False, emoji=False)
    if isinstance(exc, CaseValidationError):
        where = f"{exc.source}: " if exc.source else ""
        count = len(exc.problems)
        err.print(
            f"error: {where}invalid case ({count} problem{'s' if count != 1 else ''}): "
            + "; ".join(exc.problems),
            markup=False,
        )
        return typer.Exit(2)
    if isinstance(exc, KnowledgeError):
        err.print("error: the knowledge base is invalid: " + "; ".join(exc.problems), markup=False)
        return typer.Exit(3)
    err.print(f"error: {exc}", markup=False)
    return typer.Exit(2 if isinstance(exc, InputError) else 1)


CaseArg = Annotated[Path, typer.Argument(help="Case file (rplcare.case/1, JSON or YAML)")]
ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        "-p",
        help="Clinic profile: a YAML file or a shipped name (see `rplcare knowledge profiles`)",
    ),
]


@app.command("assess")
def assess_command(
    case_file: CaseArg,
    format: Annotated[Format, typer.Option("--format", "-f", help="text or json")] = Format.text,
    guideline: Annotated[
        str | None, typer.Option("--guideline", "-g", help="Only this guideline's work-up and care")
    ] = None,
    profile: ProfileOpt = None,
) -> None:
    """Classify, plan the work-up, interpret results and propose a cited care plan."""
    from rplcare.engine.assess import assess
    from rplcare.io import load_case
    from rplcare.knowledge.loader import load_knowledge
    from rplcare.knowledge.profile import load_profile
    from rplcare.report.text import render

    try:
        kb = load_knowledge()
        if guideline is not None and guideline not in kb.guidelines:
            raise InputError(f"unknown guideline {guideline!r}; known: {', '.join(kb.guidelines)}")
        chosen = load_profile(profile, kb) if profile else None
        assessment = assess(load_case(case_file, kb), kb, guideline, chosen)
    except RplcareError as exc:
        raise _fail(exc) from None
    if format is Format.json:
        typer.echo(json.dumps(assessment.to_json_dict(), indent=2, ensure_ascii=False))
    else:
        render(assessment, _out())


@app.command("validate")
def validate_command(case_file: CaseArg) -> None:
    """Check a case file against rplcare.case/1 and report every problem."""
    from rplcare.io import load_case

    try:
        case = load_case(case_file)
    except RplcareError as exc:
        raise _fail(exc) from None
    typer.echo(
        f"{case_file}: valid rplcare.case/1 ({len(case.pregnancies)} pregnancies, "
        f"{len(case.tests)} tests, as of {case.as_of})"
    )


@knowledge_app.command("list")
def knowledge_list(
    guideline: Annotated[str | None, typer.Option("--guideline", "-g")] = None,
    verification: Annotated[
        str | None, typer.Option("--verification", help="verified, secondary or unverified")
    ] = None,
) -> None:
    """List every investigation and treatment item with its position, strength and source."""
    from rich.table import Table

    from rplcare.knowledge.loader import load_knowledge
    from rplcare.knowledge.schema import Investigation, Treatment

    try:
        kb = load_knowledge()
    except RplcareError as exc:
        raise _fail(exc) from None
    table = Table(title=f"rplcare knowledge base {kb.version}", expand=True)
    for col in ("Id", "Kind", "Topic", "Position", "Strength", "Source", "Verification"):
        table.add_column(col)
    items: list[tuple[str, Investigation | Treatment, str]] = [
        ("test", i, i.test) for i in kb.investigations
    ]
    items += [("treatment", t, t.intervention) for t in kb.treatments]
    shown = 0
    for kind, item, topic in items:
        if guideline not in (None, item.guideline):
            continue
        if verification not in (None, item.verification.value):
            continue
        shown += 1
        table.add_row(
            item.id,
            kind,
            topic,
            item.recommendation.value,
            item.strength,
            kb.cite(item.citation),
            "UNVERIFIED" if item.verification.value == "unverified" else item.verification.value,
        )
    _out().print(table)
    typer.echo(f"{shown} items")


class StatsFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


@knowledge_app.command("stats")
def knowledge_stats_command(
    fmt: Annotated[StatsFormat, typer.Option("--format", "-f")] = StatsFormat.text,
) -> None:
    """Count the items by verification tag, overall and per guideline."""
    import json

    from rich.table import Table

    from rplcare.knowledge.loader import load_knowledge
    from rplcare.knowledge.stats import TAGS, knowledge_stats, stats_markdown

    try:
        stats = knowledge_stats(load_knowledge())
    except RplcareError as exc:
        raise _fail(exc) from None
    if fmt is StatsFormat.json:
        typer.echo(json.dumps(stats, indent=2))
        return
    if fmt is StatsFormat.markdown:
        typer.echo(stats_markdown(stats))
        return
    table = Table(title=f"rplcare knowledge base {stats['knowledge_version']}")
    for col in ("Guideline", "Items", *TAGS):
        table.add_column(col, justify="left" if col == "Guideline" else "right")
    by_guideline = stats["by_guideline"]
    assert isinstance(by_guideline, dict)
    for gid, counts in by_guideline.items():
        table.add_row(gid, str(sum(counts.values())), *(str(counts[t]) for t in TAGS))
    overall = stats["by_verification"]
    assert isinstance(overall, dict)
    table.add_row("all", str(stats["items"]), *(str(overall[t]) for t in TAGS), style="bold")
    _out().print(table)


@knowledge_app.command("profiles")
def knowledge_profiles() -> None:
    """List the shipped clinic profiles (use a name or your own YAML file with --profile)."""
    from rplcare.knowledge.loader import load_knowledge
    from rplcare.knowledge.profile import load_profile, shipped_profiles

    try:
        kb = load_knowledge()
        for name in shipped_profiles():
            p = load_profile(name, kb)
            typer.echo(f"{name}: {p.name} (primary {p.primary}; {', '.join(p.guidelines)})")
    except RplcareError as exc:
        raise _fail(exc) from None


@knowledge_app.command("check")
def knowledge_check() -> None:
    """Validate every knowledge file against its schema and cross-file invariants."""
    from rplcare.fhir.terminology import check_against_vocabulary, load_terminology
    from rplcare.knowledge.loader import load_knowledge

    try:
        kb = load_knowledge()
        terminology = load_terminology()
        problems = check_against_vocabulary(terminology, set(kb.vocabulary.tests))
        if problems:
            raise KnowledgeError(problems)
    except RplcareError as exc:
        raise _fail(exc) from None
    items = [*kb.investigations, *kb.treatments]
    counts = {
        v: sum(i.verification.value == v for i in items)
        for v in ("verified", "secondary", "unverified")
    }
    typer.echo(
        f"knowledge base {kb.version}: OK - {len(kb.investigations)} investigations, "
        f"{len(kb.treatments)} treatments, {len(kb.references)} references, "
        f"{len(kb.thresholds)} thresholds; verified {counts['verified']}, "
        f"secondary {counts['secondary']}, unverified {counts['unverified']}"
    )
    typer.echo(
        f"FHIR terminology {terminology.version}: OK - {len(terminology.outcomes)} outcome codes, "
        f"{len(terminology.tests)} tests with LOINC codes"
    )


@knowledge_app.command("export-fhir")
def knowledge_export_fhir(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here")] = None,
) -> None:
    """Write the knowledge base as a FHIR R4 Bundle of PlanDefinition and ActivityDefinition."""
    from rplcare.fhir.knowledge_export import knowledge_bundle
    from rplcare.knowledge.loader import load_knowledge

    try:
        _emit_bundle(output, knowledge_bundle(load_knowledge()))
    except RplcareError as exc:
        raise _fail(exc) from None


def _emit_bundle(output: Path | None, bundle: dict[str, Any]) -> None:
    """Write a FHIR Bundle to `output` (saying so on stderr), or to stdout."""
    from rplcare.fhir.io import write_json

    text = write_json(output, bundle)
    if output is None:
        sys.stdout.write(text)
    else:
        typer.echo(f"wrote {output} ({len(bundle['entry'])} resources)", err=True)


class Setting(StrEnum):
    population = "population"
    clinic = "clinic"


@app.command("risk")
def risk_command(
    age: Annotated[float, typer.Option("--age", help="Maternal age in years")],
    losses: Annotated[
        int,
        typer.Option("--losses", help="Consecutive losses since the last birth (or ever)"),
    ],
    live_births: Annotated[int, typer.Option("--live-births", help="Previous live births")] = 0,
    bmi: Annotated[float | None, typer.Option("--bmi", help="Body-mass index, kg/m2")] = None,
    smoker: Annotated[bool, typer.Option("--smoker", help="Currently smokes")] = False,
    pcos: Annotated[bool, typer.Option("--pcos", help="Polycystic ovary syndrome")] = False,
    gestational_days: Annotated[
        int | None, typer.Option("--gestational-days", help="Current pregnancy: days since LMP")
    ] = None,
    heartbeat: Annotated[
        bool, typer.Option("--heartbeat", help="Current pregnancy: heartbeat seen on a scan")
    ] = False,
    setting: Annotated[Setting, typer.Option("--setting")] = Setting.population,
    alcohol: Annotated[
        float, typer.Option("--alcohol", help="Drinks a week (used only by --what-if)")
    ] = 0.0,
    caffeine: Annotated[
        float, typer.Option("--caffeine", help="Caffeine, mg a day (used only by --what-if)")
    ] = 0.0,
    what_if: Annotated[
        list[str] | None,
        typer.Option(
            "--what-if",
            help="KEY=VALUE, repeatable: smoker=false, bmi=24, age=+2, alcohol=0, caffeine=100",
        ),
    ] = None,
    format: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
) -> None:
    """Quick risk estimate: next pregnancy, and the current one if --gestational-days is given;
    chance of a live birth within 1, 2 and 5 years; --what-if scenarios from cited effects."""
    from rplcare.prognosis.quick import quick_risk, render_quick

    try:
        result = quick_risk(
            age=age,
            losses=losses,
            live_births=live_births,
            bmi=bmi,
            smoker=smoker,
            pcos=pcos,
            gestational_days=gestational_days,
            heartbeat=heartbeat,
            setting=setting.value,
            alcohol=alcohol,
            caffeine=caffeine,
            what_if=what_if or (),
        )
    except RplcareError as exc:
        raise _fail(exc) from None
    if format is Format.json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        render_quick(result, _out())


@model_app.command("fit")
def model_fit(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write (default: the package)")
    ] = None,
) -> None:
    """Refit both prognosis models to the published data and write the parameters file."""
    from importlib import resources

    from rplcare.prognosis.fit import fit_all, write_parameters

    target = output or Path(str(resources.files("rplcare.prognosis").joinpath("parameters.json")))
    doc = fit_all()
    write_parameters(doc, str(target))
    # The live-birth-over-time calibration rests on the next-pregnancy parameters just written.
    from rplcare.prognosis import cumulative, model

    model.load_parameters.cache_clear()
    model.load_model.cache_clear()
    cumulative.calibrate.cache_clear()
    cal_doc = cumulative.calibration_document(cumulative.fit_calibration())
    cal_path = target.with_name(cumulative.CALIBRATION_FILE)
    write_parameters(cal_doc, str(cal_path))
    nxt, cur = doc["next_pregnancy"], doc["current_pregnancy"]
    typer.echo(
        f"wrote {target}: next-pregnancy model converged={nxt['converged']} "
        f"(-log L {nxt['negative_log_likelihood']:.3f}, {len(nxt['residuals'])} published "
        f"figures); current-pregnancy model converged={cur['converged']} "
        f"({len(cur['residuals'])} figures)"
    )


@model_app.command("validate")
def model_validate(
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-o", help="Where to write the report")
    ] = Path("docs"),
) -> None:
    """Compare the fitted model with every published figure it was fitted to."""
    from rplcare.prognosis.validate import validation_report, write_report

    report = validation_report()
    written = write_report(report, output_dir)
    _out().print(report.table())
    typer.echo(
        f"{report.inside}/{report.total} published figures ({100 * report.share_inside:.0f}%) "
        f"lie inside the model's 95% prediction interval; wrote {', '.join(map(str, written))}"
    )


db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database named by DATABASE_URL (default: ./rplcare.db)."""
    from rplcare.web.db import make_engine
    from rplcare.web.migrate import current_revision, upgrade
    from rplcare.web.settings import Settings

    engine = make_engine(Settings().database_url)
    upgrade(engine)
    typer.echo(f"database at schema revision {current_revision(engine)}")


class LeafletFormat(StrEnum):
    html = "html"
    pdf = "pdf"


@app.command("leaflet")
def leaflet_command(
    case_file: Annotated[
        Path | None, typer.Argument(help="Case file for a personal leaflet (omit with --general)")
    ] = None,
    general: Annotated[
        bool, typer.Option("--general", help="The general leaflet, not about one couple")
    ] = False,
    lang: Annotated[str, typer.Option("--lang", "-l", help="en, nl, sv or zh")] = "en",
    format: Annotated[
        LeafletFormat, typer.Option("--format", "-f", help="html or pdf")
    ] = LeafletFormat.html,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (required for pdf)")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--date", help="Date on a general leaflet (YYYY-MM-DD; default today)"),
    ] = None,
    booklet: Annotated[
        bool,
        typer.Option(
            "--booklet",
            help="The full booklet (every test, each guideline's advice, the general "
            "information) instead of the short leaflet of at most 4 pages",
        ),
    ] = False,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            envvar="RPLCARE_PUBLIC_URL",
            help="Address of the rplcare web app the short leaflet links to (its public "
            "general information); default http://localhost:8000",
        ),
    ] = None,
    profile: ProfileOpt = None,
) -> None:
    """Write a patient leaflet in English, Dutch, Swedish or Chinese, as HTML or PDF: by
    default the short personal leaflet, with --booklet the full booklet."""

    try:
        from rplcare.leaflet.i18n import check_language
        from rplcare.leaflet.render import general_leaflet, leaflet_for_case, render

        check_language(lang)
        if general == (case_file is not None):
            raise InputError("give either a case file or --general, not both or neither")
        if booklet and case_file is None:
            raise InputError("--booklet needs a case file (the general leaflet is already full)")
        if format is LeafletFormat.pdf and output is None:
            raise InputError("PDF output needs --output FILE")
        if case_file is not None:
            from rplcare.io import load_case
            from rplcare.knowledge.loader import load_knowledge
            from rplcare.knowledge.profile import load_profile

            kb = load_knowledge()
            chosen = load_profile(profile, kb) if profile else None
            leaflet = leaflet_for_case(
                load_case(case_file, kb), lang, kb, chosen, booklet=booklet, public_url=public_url
            )
        else:
            leaflet = general_leaflet(lang, _day(as_of, "--date"))
        data = render(leaflet, "pdf" if format is LeafletFormat.pdf else "html")
    except RplcareError as exc:
        raise _fail(exc) from None
    if output is None:
        sys.stdout.write(data.decode("utf-8"))
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise _fail(InputError(f"cannot write {output}: {exc.strerror}")) from None
    typer.echo(f"wrote {output} ({len(data):,} bytes, {lang}, {format.value})", err=True)


fhir_app = typer.Typer(
    help="FHIR R4: import a history, export an assessment.", no_args_is_help=True
)
app.add_typer(fhir_app, name="fhir")


@fhir_app.command("import")
def fhir_import(
    bundle_file: Annotated[Path, typer.Argument(help="FHIR R4 Bundle (JSON, or .json.gz)")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the case file here")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="The case's date: YYYY-MM-DD, or 'record' for the latest date in the Bundle "
            "(default today)",
        ),
    ] = None,
    patient: Annotated[
        str | None, typer.Option("--patient", help="Patient id when the Bundle holds several")
    ] = None,
) -> None:
    """Read a pregnancy history from a FHIR Bundle into a case file; print what was assumed."""

    from rplcare.fhir.importer import import_bundle
    from rplcare.fhir.io import read_json, write_json
    from rplcare.knowledge.loader import load_knowledge

    try:
        day = None if as_of == "record" else _day(as_of, "--as-of", " or 'record'")
        result = import_bundle(
            read_json(bundle_file), as_of=day, kb=load_knowledge(), patient_id=patient
        )
        text = write_json(output, result.document)
    except CaseValidationError as exc:
        hint = " (for a historical record, give --as-of a date when the history was current)"
        exc.problems[:] = [p + hint if "plausible" in p else p for p in exc.problems]
        raise _fail(exc) from None
    except RplcareError as exc:
        raise _fail(exc) from None
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if output is None:
        sys.stdout.write(text)
    else:
        typer.echo(
            f"wrote {output} ({len(result.case.pregnancies)} pregnancies, "
            f"{len(result.case.tests)} tests, {len(result.warnings)} warnings)",
            err=True,
        )


@fhir_app.command("export")
def fhir_export(
    case_file: CaseArg,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here")] = None,
) -> None:
    """Assess a case and write the result as a FHIR R4 Bundle (RiskAssessment, Condition,
    ServiceRequest, CarePlan), each with its citations."""
    from rplcare.engine.assess import assess
    from rplcare.fhir.exporter import export_bundle
    from rplcare.io import load_case
    from rplcare.knowledge.loader import load_knowledge

    try:
        kb = load_knowledge()
        case = load_case(case_file, kb)
        _emit_bundle(output, export_bundle(assess(case, kb), case, kb))
    except RplcareError as exc:
        raise _fail(exc) from None


cohort_app = typer.Typer(
    help="Cohort mode: classify and score registers of millions of pregnancies.",
    no_args_is_help=True,
)
app.add_typer(cohort_app, name="cohort")


class CohortEngine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


@cohort_app.command("run")
def cohort_run(
    input_file: Annotated[
        Path,
        typer.Argument(help="Register: Parquet file or directory, or CSV; one row per pregnancy"),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output directory")],
    engine: Annotated[
        CohortEngine, typer.Option("--engine", "-e", help="duckdb (embedded) or spark")
    ] = CohortEngine.duckdb,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Date of the run (YYYY-MM-DD; default today)")
    ] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid", help="Leave out women with invalid rows instead of stopping"
        ),
    ] = False,
    memory_limit: Annotated[
        str | None,
        typer.Option("--memory-limit", help="DuckDB memory cap, e.g. 2GB (spills to disk beyond)"),
    ] = None,
) -> None:
    """Classify every woman under ESHRE, RCOG and ASRM and score her next pregnancy; write
    women.parquet, summary CSVs and charts."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from rplcare.cohort.engines import make_engine
    from rplcare.cohort.rules import CohortRules
    from rplcare.cohort.run import prepare, write_outputs
    from rplcare.knowledge.loader import load_knowledge

    steps = ["read", "validate", "classify", "score", "write", "summarise"]
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=_err_console(), transient=False,
    )  # fmt: skip
    try:
        day = _day(as_of, "--as-of")
        rules = CohortRules.from_knowledge(load_knowledge())
        with progress:
            task = progress.add_task("starting", total=len(steps))

            def step(name: str) -> None:
                progress.update(task, description=name, completed=steps.index(name))

            runner = make_engine(engine.value, memory_limit)
            try:
                q, report = prepare(
                    runner, input_file, rules, day, skip_invalid=skip_invalid, step=step
                )
                paths = write_outputs(runner, q, report, rules, output, step=step)
            finally:
                runner.close()
            progress.update(task, description="done", completed=len(steps))
    except RplcareError as exc:
        raise _fail(exc) from None
    left_out = f", {report.skipped_rows:,} rows left out (invalid)" if report.skipped_rows else ""
    typer.echo(
        f"{report.women:,} women from {report.rows:,} pregnancies{left_out}; "
        f"{report.risk_keys:,} distinct age/history/setting scored; "
        f"wrote {len(paths)} files to {output} in {sum(report.seconds.values()):.1f} s "
        f"({engine.value})"
    )


@cohort_app.command("simulate")
def cohort_simulate(
    women: Annotated[int, typer.Option("--women", "-n", min=1, help="Number of women")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Parquet (or .csv) file")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed")] = 2026,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Register end date (default 2026-01-01)")
    ] = None,
) -> None:
    """Draw a synthetic register from the fitted prognosis model (see docs/cohort.md)."""
    from rplcare.cohort.simulate import SimulationSettings, settings_note, simulate, write_register

    try:
        day = _day(as_of or "2026-01-01", "--as-of")
        settings = SimulationSettings(women=women, seed=seed, as_of=day)
        rows = write_register(simulate(settings), output)
        note = output.with_name(output.name + ".settings.json")
        note.write_text(json.dumps(settings_note(settings), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise _fail(InputError(f"cannot write {output}: {exc.strerror}")) from None
    except RplcareError as exc:
        raise _fail(exc) from None
    typer.echo(f"wrote {output}: {women:,} women, {rows:,} pregnancies (settings in {note.name})")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    demo: Annotated[bool, typer.Option("--demo/--no-demo", help="Load demo data")] = False,
) -> None:
    """Migrate the database, optionally load demo data, and serve the web app."""
    import uvicorn

    from rplcare.web.app import create_app
    from rplcare.web.db import make_engine, session_factory, transaction
    from rplcare.web.fhir_servers import is_loopback
    from rplcare.web.migrate import upgrade
    from rplcare.web.seed import DEMO_USERS, seed_demo
    from rplcare.web.settings import Settings

    settings = Settings()
    if settings.environment != "production" and not is_loopback(host):
        # Development mode has demo accounts and unauthenticated CDS services (S3).
        typer.secho(
            f"WARNING: serving {settings.environment} mode on {host}, reachable from other "
            "machines; set RPLCARE_ENVIRONMENT=production for any real use.",
            err=True,
            fg=typer.colors.RED,
            bold=True,
        )
    engine = make_engine(settings.database_url, settings.sqlite_busy_timeout_s)
    upgrade(engine)
    if demo:
        if settings.environment == "production":
            raise _fail(InputError("--demo is refused in production"))
        with transaction(session_factory(engine)) as session:
            seeded = seed_demo(session, Path("examples"))
        typer.echo("demo data loaded" if seeded else "demo data already present")
        for username, password, role in DEMO_USERS:
            typer.echo(f"  {role:9s} login: {username} / {password}")
    try:
        app = create_app(settings)
    except RplcareError as exc:
        raise _fail(exc) from None
    if app.state.profile is not None:
        typer.echo(f"clinic profile: {app.state.profile.id} ({app.state.profile.name})")
    typer.echo(f"rplcare is running at http://{host}:{port}/  (API docs at /docs; Ctrl-C stops)")
    warm_and_freeze()
    # No access log: URLs of the public risk page carry the visitor's answers.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        **proxy_options(settings.forwarded_allow_ips),
    )


def proxy_options(forwarded_allow_ips: str) -> dict[str, Any]:
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 by default, so anything on the machine
    could choose its client address (and so its sign-in throttle key). Only proxies named in
    RPLCARE_FORWARDED_ALLOW_IPS are trusted; without it, no forwarded header is read."""
    if not forwarded_allow_ips.strip():
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": forwarded_allow_ips.strip()}


def warm_and_freeze() -> None:
    """Load the knowledge base and models, then move the start-up heap out of the garbage
    collector's reach: full collections then scan only per-request objects (they otherwise
    stall requests for ~100 ms on this heap)."""
    import gc

    from rplcare.knowledge.loader import load_knowledge
    from rplcare.prognosis.current import load_current_model
    from rplcare.prognosis.model import load_model

    load_knowledge()
    load_model()
    load_current_model()
    gc.collect()
    gc.freeze()


def main() -> None:
    """Entry point: no traceback ever reaches the user."""
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:  # a bug: say so briefly, exit 1
        sys.stderr.write(
            f"internal error ({type(exc).__name__}): {exc}. Please report this with the input.\n"
        )
        sys.exit(1)
