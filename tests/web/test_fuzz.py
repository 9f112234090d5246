"""API fuzzing, in process (no network), against a fresh migrated SQLite database.

1. Schemathesis: every operation in `/openapi.json`, with schema-valid and schema-invalid
   requests (plus the schema's own examples), authenticated with HTTP Basic as the clinician.
   Checks: no 5xx, responses match their declared schema and content type, and schema-invalid
   input is rejected with a 4xx.
2. Hypothesis: mutated example cases (dropped fields, wrong types, random strings, huge
   numbers, nested junk, non-finite numbers) posted to `/api/v1/assess` give 200 or a 422 whose
   every problem names a field path, never a 5xx.

Both runs are derandomized (same inputs on every run) and bounded (examples per operation,
`deadline=None`). Each prints a one-line summary (shown without `-s`).

The clinician's password hash is made with minimal argon2 cost parameters (argon2 reads them
from the hash), so each Basic-authenticated request verifies the real password through the
real code path in about a millisecond rather than ~150 ms. Only the right password is ever
sent: wrong ones would trip the login rate limiter (5 failures lock the user for 5 minutes).
"""

from __future__ import annotations

import base64
import copy
import json
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err, Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

from rplcare.web import repository as repo
from rplcare.web.app import create_app
from rplcare.web.db import make_engine, session_factory, transaction
from rplcare.web.migrate import upgrade
from rplcare.web.models import User
from rplcare.web.settings import Settings
from tests.web.conftest import USERS

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.json"))
CASES: list[dict[str, Any]] = [json.loads(p.read_text("utf-8")) for p in EXAMPLES]

CLINICIAN = "clin"
JSON = "application/json"
#: Examples per operation and generation mode (the whole module runs in well under 90 s).
FUZZ_EXAMPLES = 120
#: Mutated cases posted to /api/v1/assess.
MUTATION_EXAMPLES = 2500

FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _basic_auth(username: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{USERS[username][0]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class Stats:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    def record(self, status: int) -> None:
        self.requests += 1
        self.statuses[status] += 1

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code >= 500)

    def codes(self) -> str:
        return " ".join(f"{code}×{n}" for code, n in sorted(self.statuses.items()))


@dataclass
class FuzzApp:
    app: FastAPI
    patient_ids: list[int]


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzApp]:
    """A migrated SQLite database of its own, the two test users, and three stored couples."""
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
    engine = make_engine(url)
    upgrade(engine)
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with transaction(session_factory(engine)) as session:
        for name, (password, role) in USERS.items():
            user: User = repo.create_user(session, username=name, password=password, role=role)
            user.password_hash = cheap.hash(password)
        ids = [repo.create_couple(session, repo.validate(c), CLINICIAN).id for c in CASES]
    engine.dispose()
    # CDS calls may name any fhirServer: allow only a closed local port, so the fuzzer gets its
    # 412 at once instead of waiting on unreachable addresses.
    settings = Settings(
        database_url=url,
        environment="test",
        secret_key="k" * 40,
        cds_fhir_servers="http://127.0.0.1:9",
    )
    app = create_app(settings)
    yield FuzzApp(app, ids)
    app.state.engine.dispose()


def _say(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n{line}", flush=True)  # noqa: T201


# --- 1. Schemathesis over every operation ---------------------------------------------------

POSITIVE_CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
NEGATIVE_CHECKS = [*POSITIVE_CHECKS, negative_data_rejection]

#: Plausible `/api/v1/risk` bodies (the plausibility ranges in `rplcare.prognosis.quick`), so the
#: 200 response is reached too: the schema alone allows any number, which the app refuses.
risk_bodies = st.fixed_dictionaries(
    {
        "age": st.floats(min_value=10, max_value=70),
        "losses": st.integers(min_value=0, max_value=30),
        "live_births": st.integers(min_value=0, max_value=30),
        "bmi": st.none() | st.floats(min_value=10, max_value=100),
        "smoker": st.booleans(),
        "pcos": st.booleans(),
        "gestational_days": st.none() | st.integers(min_value=0, max_value=315),
        "heartbeat": st.booleans(),
        "setting": st.sampled_from(["population", "clinic"]),
    }
)


def _positive_strategy(op: Any, patient_ids: list[int]) -> Any:
    """Schema-valid requests, plus ones aimed at stored couples and with valid case bodies."""
    options = [op.as_strategy(GenerationMode.POSITIVE)]
    ids: list[int | None] = list(patient_ids) if "{couple_id}" in op.path else [None]
    takes_case = op.path in ("/api/v1/assess", "/api/v1/patients") or (
        op.path == "/api/v1/patients/{couple_id}" and op.method.upper() == "PUT"
    )
    for pid in ids:
        path = {"couple_id": pid} if pid is not None else None
        if pid is not None:
            options.append(op.as_strategy(GenerationMode.POSITIVE, path_parameters=path))
        if takes_case:
            options.extend(
                op.as_strategy(
                    GenerationMode.POSITIVE, path_parameters=path, body=c, media_type=JSON
                )
                for c in CASES
            )
    if "{service_id}" in op.path:  # aim at the real CDS services, not only unknown ids
        options.extend(
            op.as_strategy(GenerationMode.POSITIVE, path_parameters={"service_id": sid})
            for sid in ("rplcare-patient-view", "rplcare-order-select")
        )
    if op.path == "/api/v1/risk":
        options.append(
            risk_bodies.flatmap(
                lambda b: op.as_strategy(GenerationMode.POSITIVE, body=b, media_type=JSON)
            )
        )
    return st.one_of(options)


@dataclass
class FuzzRun:
    auth: dict[str, str]
    stats: Stats = field(default_factory=Stats)

    def run(self, strategy: Any, checks: list[Callable[..., Any]], max_examples: int) -> None:
        @settings(FUZZ, max_examples=max_examples)
        @given(case=strategy)
        def run(case: schemathesis.Case[Any]) -> None:
            try:
                # No redirect following: an API client sees the app's own 303s.
                response = case.call(headers=self.auth, allow_redirects=False)
            except Exception as exc:  # the app raised: a real server answers 500 here
                self.stats.record(500)
                raise AssertionError(f"server error: {exc!r}\n{case.as_curl_command()}") from exc
            self.stats.record(response.status_code)
            case.validate_response(response, checks=checks, headers=self.auth)

        run()


def _has_negative_inputs(op: Any) -> bool:
    return bool(op.body) or any(True for _ in op.iter_parameters())


def test_schemathesis_fuzz_every_operation(
    fuzz_app: FuzzApp, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app.app)
    results = list(schema.get_all_operations())
    assert not [r for r in results if isinstance(r, Err)], "operations the schema cannot define"
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    # Deleting stored couples last keeps them available to the other operations.
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    spec_operations = {
        (method.upper(), path)
        for path, item in schema.raw_schema["paths"].items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch"}
    }
    assert {(op.method.upper(), op.path) for op in operations} == spec_operations

    fuzz = FuzzRun(auth=_basic_auth(CLINICIAN))
    per_operation: dict[str, int] = {}
    for op in operations:
        before = fuzz.stats.requests
        for example in op.get_strategies_from_examples():
            fuzz.run(example, POSITIVE_CHECKS, max_examples=3)
        fuzz.run(_positive_strategy(op, fuzz_app.patient_ids), POSITIVE_CHECKS, FUZZ_EXAMPLES)
        if _has_negative_inputs(op):  # pages without parameters have nothing to make invalid
            negative = op.as_strategy(GenerationMode.NEGATIVE)
            fuzz.run(negative, NEGATIVE_CHECKS, FUZZ_EXAMPLES)
        per_operation[op.label] = fuzz.stats.requests - before

    stats = fuzz.stats
    _say(
        capsys,
        f"schemathesis fuzz: {len(operations)} operations, {stats.requests} requests, "
        f"{stats.server_errors} server errors (status codes: {stats.codes()})",
    )
    assert stats.server_errors == 0
    assert all(n > 0 for n in per_operation.values()), per_operation
    # The authenticated operations were really reached, not all turned away at the door.
    assert stats.statuses[401] == 0 and stats.statuses[429] == 0, stats.codes()
    assert stats.statuses[200] and stats.statuses[201] and stats.statuses[204], stats.codes()


# --- 2. Mutated example cases to /api/v1/assess ---------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
huge_numbers = st.one_of(
    st.integers(min_value=10**15, max_value=10**400),
    st.integers(min_value=-(10**400), max_value=-(10**15)),
    st.sampled_from([1e308, -1e308, 5e-324, math.inf, -math.inf, math.nan]),
)


def _nested(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=10), children, max_size=4),
        ),
        max_leaves=20,
    )


junk = _nested(json_scalars)
replacements = st.one_of(junk, huge_numbers, st.text(max_size=200), st.text(min_size=2000))


def _deep(depth: int) -> Any:
    value: Any = "x"
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


#: Every key and string value in the examples: swapping them around gives inputs that look valid
#: (a known outcome in a test's `result`, a date in `code`) and reach deeper validation.
VOCABULARY = sorted({text for case in CASES for text in _strings(case)})

MUTATIONS = {
    # Kinds of mutation; those listed twice are drawn twice as often.
    "drop": 2,
    "junk": 1,
    "huge": 1,
    "string": 1,
    "nest": 1,
    "add": 1,
    "number": 2,
    "date": 2,
    "vocabulary": 2,
    "duplicate": 1,
}
MUTATION_KINDS = [kind for kind, weight in MUTATIONS.items() for _ in range(weight)]


def _mutate(draw: st.DrawFn, parent: dict[str, Any] | list[Any], key: Any) -> None:
    kind = draw(st.sampled_from(MUTATION_KINDS))
    if kind == "drop":
        del parent[key]
    elif kind == "junk":
        parent[key] = draw(junk)
    elif kind == "huge":
        parent[key] = draw(huge_numbers)
    elif kind == "string":
        parent[key] = draw(st.text(max_size=50))
    elif kind == "nest":
        parent[key] = _deep(draw(st.integers(min_value=1, max_value=200)))
    elif kind == "number":
        parent[key] = draw(
            st.integers(min_value=-5, max_value=400)
            | st.floats(min_value=-5, max_value=400, allow_nan=False)
        )
    elif kind == "date":
        day = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
        parent[key] = day.isoformat()
    elif kind == "vocabulary":
        parent[key] = draw(st.sampled_from(VOCABULARY))
    elif kind == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))
    elif isinstance(parent, dict):  # "add" (or "duplicate" in an object): an extra field
        parent[draw(st.text(max_size=12) | st.sampled_from(VOCABULARY))] = draw(replacements)
    else:
        parent.append(draw(replacements))


@st.composite
def mutated_case(draw: st.DrawFn) -> Any:
    case = copy.deepcopy(draw(st.sampled_from(CASES)))
    if draw(st.integers(min_value=0, max_value=49)) == 0:
        return draw(junk)  # now and then, not an object at all
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        # Walk down to a random entry of a random container inside the case, and mutate it.
        parent: Any = case
        while parent:
            key = draw(
                st.sampled_from(list(parent) if isinstance(parent, dict) else range(len(parent)))
            )
            child = parent[key]
            if isinstance(child, dict | list) and child and draw(st.integers(0, 2)):
                parent = child
                continue
            _mutate(draw, parent, key)
            break
    return case


@pytest.fixture(scope="module")
def assess_client(fuzz_app: FuzzApp) -> Iterator[TestClient]:
    # A server error comes back as a 500 response (as a real server sends it), not an exception.
    with TestClient(fuzz_app.app, raise_server_exceptions=False) as client:
        yield client


def test_mutated_cases_are_assessed_or_rejected_with_field_paths(
    assess_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    stats = Stats()

    @settings(FUZZ, max_examples=MUTATION_EXAMPLES)
    @given(case=mutated_case())
    def post(case: Any) -> None:
        body = json.dumps(case)  # NaN and Infinity too: the server's JSON parser accepts them
        response = assess_client.post(
            "/api/v1/assess", content=body, headers={"content-type": "application/json"}
        )
        stats.record(response.status_code)
        assert response.status_code in (200, 422), (response.status_code, response.text[:500])
        if response.status_code == 422:
            detail = response.json()["detail"]
            assert isinstance(detail, list) and detail, detail
            for problem in detail:
                loc, msg = problem["loc"], problem["msg"]
                assert isinstance(loc, list) and loc and loc[0] == "body" and msg, problem
                if "path" in problem:  # the app's own: a field path such as pregnancies[0].end_date
                    assert problem["path"], problem

    post()
    _say(
        capsys,
        f"mutated /api/v1/assess: {stats.requests} requests, {stats.server_errors} server "
        f"errors (status codes: {stats.codes()})",
    )
    assert stats.server_errors == 0
    assert stats.statuses[200] > 0 and stats.statuses[422] > 0


# --- Bodies that do not parse, and the bugs the runs above found (now fixed) -----------------


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"schema": "\xff"}'],
    ids=["nested-100000-deep", "invalid-utf8"],
)
def test_unparseable_bodies_are_client_errors(assess_client: TestClient, body: bytes) -> None:
    # FastAPI answers these with 400 "There was an error parsing the body" (not 422).
    response = assess_client.post(
        "/api/v1/assess", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text[:200]


def test_422_problem_lists_match_the_declared_schema(fuzz_app: FuzzApp) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app.app)
    case = schema["/api/v1/assess"]["POST"].Case(body={}, media_type=JSON)
    response = case.call()
    assert response.status_code == 422
    case.validate_response(response, checks=[response_schema_conformance])


def test_field_path_of_a_key_with_a_colon(assess_client: TestClient) -> None:
    case = copy.deepcopy(CASES[0])
    case["a:b"] = 1
    response = assess_client.post("/api/v1/assess", json=case)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert ["body", "a:b"] in [p["loc"] for p in detail]
    assert '"a:b"' in {p["path"] for p in detail}


def test_risk_422_names_every_json_field(assess_client: TestClient) -> None:
    response = assess_client.post("/api/v1/risk", json={"age": 5, "losses": 1, "live_births": 99})
    assert response.status_code == 422
    assert {p["loc"][-1] for p in response.json()["detail"]} == {"age", "live_births"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/assess", "NaN"),
        ("/api/v1/assess", "[1, Infinity]"),
        ("/api/v1/patients", "-Infinity"),
        ("/api/v1/risk", '{"age": 30, "losses": NaN}'),
        ("/api/v1/risk", '{"age": 30, "losses": 1, "smoker": Infinity}'),
    ],
)
def test_non_finite_number_outside_a_case_object_is_422(
    assess_client: TestClient, path: str, body: str
) -> None:
    headers = {"content-type": "application/json", **_basic_auth(CLINICIAN)}
    response = assess_client.post(path, content=body, headers=headers)
    assert response.status_code == 422, (response.status_code, response.text)


@pytest.mark.parametrize("couple_id", [2**63, -(2**63) - 1, 10**30])
def test_huge_couple_id_is_not_a_server_error(assess_client: TestClient, couple_id: int) -> None:
    response = assess_client.get(f"/api/v1/patients/{couple_id}", headers=_basic_auth(CLINICIAN))
    assert response.status_code in (404, 422), (response.status_code, response.text)
