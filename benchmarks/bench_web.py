"""Load benchmark for the web API. Two workloads (`--endpoint`):

- `assess` (issue 5 target: `POST /api/v1/assess` p99 <= 25 ms at 200 req/s): the three
  example cases, round robin;
- `patient-page` (issue 15 target: the patient page renders in <= 300 ms): sequential
  `GET /patients/{id}` of the demo couple with confirmed APS, signed in as the demo
  clinician, after a few warm-up requests; reports the median and p95 (each view also
  stores its assessment snapshot and audit row, as in use). `--rate` does not apply;
  `--requests` sets the number of measured views;
- `cds` (issue 7 target: CDS Hooks p99 <= 50 ms): `patient-view` calls with full prefetch for
  the five Synthea patients with two or more losses, and `order-select` calls selecting an
  NK-cell test, a thrombophilia screen or a TSH, round robin (the prefetch is what a FHIR server
  answers to the services' prefetch queries, built from tests/fhir/data/synthea).

Serves `create_app` with uvicorn on loopback against a freshly migrated SQLite database in a
temporary directory, then drives the workload at a fixed arrival rate for a fixed time. The
load is open-loop: request i is due at start + i/rate whether or not earlier ones have
finished, and its latency is measured from that due time, so a slow server cannot slow the load
down and hide its own queueing (no coordinated omission). A pool of worker threads, each with
one keep-alive `http.client` connection, sends the requests.

The app is prepared and served as `rplcare serve` does it: `create_app`, then
`warm_and_freeze()` (knowledge base and models loaded, start-up heap moved out of the garbage
collector's reach with `gc.freeze()`), uvicorn with one worker and no access log. `--gc off`
skips the freeze, to show what it is worth; `--gc freeze+threshold` also raises the gen-0
collection threshold (an experiment). By default the server runs in a child process, so the
load generator and the server do not share a GIL; `--server thread` runs it in a thread of
this process instead. Either way they share the machine's cores, which the output says, along
with the CPU each side used and the server's garbage-collection pauses.

The run stops by itself: an alarm ends it, and the server, after HARD_LIMIT_S (exit status 2).
Otherwise the exit status is 1 if any request failed or went unanswered, else 0; missing the
latency target is reported, not an error (as in bench_assess.py).

    .venv/bin/python benchmarks/bench_web.py [--endpoint assess|cds|patient-page] [--rate 200]
        [--duration 20] [--requests 100]
        [--server process|thread] [--gc freeze|off|freeze+threshold]
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import math
import multiprocessing
import os
import queue
import re
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from rplcare.cli import warm_and_freeze
from rplcare.web.app import create_app
from rplcare.web.db import make_engine, session_factory, transaction
from rplcare.web.migrate import upgrade
from rplcare.web.seed import DEMO_USERS, seed_demo
from rplcare.web.settings import Settings

RATE = 200.0  # requests per second
DURATION_S = 20.0
WARMUP_REQUESTS = 150  # sent before the measured window, not counted
WORKERS = 32
TARGETS_P99_MS = {"assess": 25.0, "cds": 50.0}
PATIENT_PAGE_TARGET_MS = 300.0  # issue 15
PATIENT_PAGE_WARMUP = 5
HARD_LIMIT_S = 40  # whole run, start-up and shutdown included (with the default duration)
REQUEST_TIMEOUT_S = 5.0
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@dataclass(frozen=True)
class Workload:
    name: str
    requests: list[tuple[str, bytes]]  # (path, JSON body), sent round robin
    marker: bytes  # a good answer starts with this (within its first 64 bytes)
    what: str

    @property
    def target_ms(self) -> float:
        return TARGETS_P99_MS[self.name]


def _workload(name: str) -> Workload:
    if name == "assess":
        bodies = [
            json.dumps(json.loads(p.read_text("utf-8"))).encode()
            for p in sorted(EXAMPLES.glob("*.json"))
        ]
        return Workload(
            name, [("/api/v1/assess", b) for b in bodies], b'"rplcare.assessment/1"',
            "POST /api/v1/assess, 3 example cases",
        )  # fmt: skip
    # The request builders live with the tests that check them against the CDS Hooks spec.
    sys.path.insert(0, str(ROOT))
    from tests.web.cds_requests import order_select, patient_view, service_request

    from rplcare.cds.services import ORDER_SELECT, PATIENT_VIEW

    names = ["virginia_mercado", "cristina_madrid", "raeann_okon", "samira_parisian"]
    orders = [
        service_request("nk", "Peripheral blood NK cell assay"),
        service_request("th", "Thrombophilia screen"),
        service_request("tsh", "TSH", [{"system": "http://loinc.org", "code": "3016-3"}]),
    ]
    requests = [(f"/cds-services/{PATIENT_VIEW}", patient_view(n)) for n in names]
    requests += [
        (f"/cds-services/{ORDER_SELECT}", order_select(names[i % len(names)], [o]))
        for i, o in enumerate(orders)
    ]
    return Workload(
        name, [(path, json.dumps(body).encode()) for path, body in requests], b'{"cards":',
        f"CDS Hooks: {len(names)} patient-view (full prefetch) + {len(orders)} order-select calls",
    )  # fmt: skip


# --- the patient page (issue 15) ------------------------------------------------------------


def _seeded_database(directory: str) -> str:
    """A migrated database with the demo users and one couple per example case."""
    url = _migrated_database(directory)
    engine = make_engine(url)
    with transaction(session_factory(engine)) as session:
        seed_demo(session, EXAMPLES)
    engine.dispose()
    return url


def _signed_in_cookie(conn: http.client.HTTPConnection) -> str:
    """Sign in as the demo clinician through the login form; the session cookie."""

    def cookie_of(response: http.client.HTTPResponse) -> str:
        return "; ".join(
            v.split(";", 1)[0] for k, v in response.getheaders() if k.lower() == "set-cookie"
        )

    conn.request("GET", "/login")
    response = conn.getresponse()
    page, cookie = response.read().decode(), cookie_of(response)
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    password = next(pw for name, pw, _role in DEMO_USERS if name == "clinician")
    body = f"username=clinician&password={password}&csrf={csrf}"
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    conn.request("POST", "/login", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    if response.status != 303:
        raise RuntimeError(f"sign-in failed: HTTP {response.status}")
    return cookie_of(response) or cookie


def patient_page_run(port: int, requests: int) -> int:
    """Sequential views of the demo APS couple's page; prints the median and p95."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    headers = {"Cookie": _signed_in_cookie(conn)}
    # Couple ids are random: find the demo couple in the list.
    conn.request("GET", "/patients?q=example-aps-three-losses", headers=headers)
    listing = conn.getresponse().read().decode()
    found = re.search(r'href="(/patients/\d+)">example-aps-three-losses<', listing)
    if found is None:
        print("the demo couple example-aps-three-losses is not in the list", file=sys.stderr)
        return 1
    path = found.group(1)
    times: list[float] = []
    for i in range(PATIENT_PAGE_WARMUP + requests):
        sent = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        page = response.read()
        ms = (time.perf_counter() - sent) * 1000
        if response.status != 200 or b"example-aps-three-losses" not in page:
            print(f"GET {path}: HTTP {response.status}", file=sys.stderr)
            return 1
        if i >= PATIENT_PAGE_WARMUP:
            times.append(ms)
    conn.close()
    times.sort()
    p50, p95 = statistics.median(times), _pct(times, 95)
    print(
        f"GET {path} (demo couple example-aps-three-losses, signed in; {len(page)} bytes): "
        f"{requests} sequential views after {PATIENT_PAGE_WARMUP} warm-up views"
    )
    print(f"latency (ms): median {p50:.1f}  p95 {p95:.1f}  max {times[-1]:.1f}")
    verdict = "meets" if p95 <= PATIENT_PAGE_TARGET_MS else "MISSES"
    print(f"p95 {p95:.1f} ms: {verdict} the {PATIENT_PAGE_TARGET_MS:g} ms target")
    return 0


# --- the server -----------------------------------------------------------------------------


def _migrated_database(directory: str) -> str:
    url = f"sqlite:///{Path(directory) / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def _uvicorn(url: str, gc_mode: str) -> uvicorn.Server:
    """The app prepared and served as `rplcare serve` does (one worker, no access log)."""
    settings = Settings(database_url=url, environment="test", secret_key="b" * 40)
    app = create_app(settings)
    if gc_mode != "off":
        # As `rplcare serve`: load the knowledge base and models, then gc.freeze() the heap.
        warm_and_freeze()
    if gc_mode == "freeze+threshold":  # experiment: collect young objects less often too
        gc.set_threshold(50_000, 20, 100)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    return uvicorn.Server(config)


def _serve_in_child(
    url: str, sock: socket.socket, gc_mode: str, pauses: GcPauses, lifetime_s: int
) -> None:
    # The child never outlives the run, even if the parent is killed: SIGALRM's default
    # action ends the process.
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(lifetime_s)
    pauses.install()
    _uvicorn(url, gc_mode).run(sockets=[sock])


class GcPauses:
    """Garbage-collector pauses in the server process, in shared memory the load side reads."""

    FULL_COUNT, FULL_MS, FULL_MAX_MS, ALL_MS = range(4)

    def __init__(self) -> None:
        self.shared = multiprocessing.get_context("fork").Array("d", 4)
        self._started = 0.0

    def install(self) -> None:
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        ms = (time.perf_counter() - self._started) * 1000
        with self.shared.get_lock():
            self.shared[self.ALL_MS] += ms
            if info["generation"] == 2:
                self.shared[self.FULL_COUNT] += 1
                self.shared[self.FULL_MS] += ms
                self.shared[self.FULL_MAX_MS] = max(self.shared[self.FULL_MAX_MS], ms)

    def reset(self) -> None:
        with self.shared.get_lock():
            for i in range(4):
                self.shared[i] = 0.0

    def read(self) -> list[float]:
        with self.shared.get_lock():
            return [float(self.shared[i]) for i in range(4)]


def _wait_until_up(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the server did not come up")


class RunningServer:
    """uvicorn on 127.0.0.1 and a free port, in a child process or a thread."""

    def __init__(self, mode: str, url: str, gc_mode: str, lifetime_s: int) -> None:
        self.mode = mode
        self.gc_pauses = GcPauses()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.process: multiprocessing.process.BaseProcess | None = None
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        if mode == "process":
            ctx = multiprocessing.get_context("fork")
            self.process = ctx.Process(
                target=_serve_in_child,
                args=(url, self.sock, gc_mode, self.gc_pauses, lifetime_s),
                daemon=True,
            )
            self.process.start()
        else:
            self.gc_pauses.install()  # this whole process: the load generator's collections too
            self.server = _uvicorn(url, gc_mode)
            self.thread = threading.Thread(
                target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
            )
            self.thread.start()
        _wait_until_up(self.port, time.monotonic() + 15)

    def cpu_seconds(self) -> float | None:
        """CPU time used so far by the server process (child-process mode only)."""
        if self.process is None or self.process.pid is None:
            return None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # SIGTERM: uvicorn shuts down gracefully
            self.process.join(timeout=3)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(timeout=1)
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=3)
        self.sock.close()


# --- the load -------------------------------------------------------------------------------


@dataclass
class Result:
    due: float  # when the request was scheduled (monotonic seconds)
    sent: float
    done: float
    ok: bool
    error: str = ""

    @property
    def latency_ms(self) -> float:
        return (self.done - self.due) * 1000

    @property
    def service_ms(self) -> float:
        return (self.done - self.sent) * 1000


@dataclass
class Load:
    port: int
    workload: Workload
    jobs: queue.Queue[tuple[int, float, bool] | None] = field(default_factory=queue.Queue)
    results: list[Result] = field(default_factory=list)
    warmup: list[Result] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def worker(self) -> None:
        conn: http.client.HTTPConnection | None = None
        headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        while (job := self.jobs.get()) is not None:
            index, due, measured = job
            path, body = self.workload.requests[index % len(self.workload.requests)]
            sent = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(
                        "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S
                    )
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                ok = response.status == 200 and self.workload.marker in payload[:64]
                error = "" if ok else f"HTTP {response.status}"
            except (OSError, http.client.HTTPException) as exc:
                ok, error = False, type(exc).__name__
                if conn is not None:
                    conn.close()
                conn = None
            result = Result(due, sent, time.monotonic(), ok, error)
            with self.lock:
                (self.results if measured else self.warmup).append(result)
        if conn is not None:
            conn.close()

    def run(self, rate: float, count: int, measured: bool) -> None:
        """Schedule `count` requests at `rate`, request i at start + i/rate."""
        start = time.monotonic() + 0.05
        for i in range(count):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.jobs.put((i, due, measured))

    def wait(self, count: int, deadline: float, measured: bool) -> None:
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.results if measured else self.warmup) >= count:
                    return
            time.sleep(0.01)


def _pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(p / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


@dataclass
class Run:
    workload: Workload
    rate: float
    duration: float
    scheduled: int
    server_mode: str
    gc_mode: str
    results: list[Result]
    wall_s: float  # the measured window, first due time to last answer
    client_cpu_s: float  # this process (with the server in it, in thread mode)
    server_cpu_s: float | None  # the server's child process
    gc_pauses: list[float]  # see GcPauses


def _report(run: Run) -> int:
    oks = [r for r in run.results if r.ok]
    errors = [r for r in run.results if not r.ok]
    missing = run.scheduled - len(run.results)
    latencies = sorted(r.latency_ms for r in oks)
    service = sorted(r.service_ms for r in oks)
    lag = max(((r.sent - r.due) * 1000 for r in run.results), default=float("nan"))
    throughput = len(oks) / run.wall_s if run.wall_s > 0 else 0.0
    where = "a child process" if run.server_mode == "process" else "a thread of this process"
    gc_note = {
        "freeze": "; start-up heap frozen as by rplcare serve",
        "off": "; WITHOUT rplcare serve's gc.freeze()",
        "freeze+threshold": "; EXPERIMENT: gc.freeze() and gen-0 threshold 50000",
    }[run.gc_mode]

    print(
        f"machine: {os.cpu_count()} CPU cores, shared by the load generator and the server "
        f"(uvicorn in {where}{gc_note}): both compete for the same cores"
    )
    print(
        f"offered: {run.rate:g} req/s for {run.duration:g} s = {run.scheduled} requests "
        f"({run.workload.what}; open loop, {WORKERS} keep-alive connections, "
        f"after {WARMUP_REQUESTS} warm-up requests)"
    )
    print(
        f"achieved: {throughput:.1f} req/s ({len(oks)} OK in {run.wall_s:.2f} s); "
        f"errors: {len(errors)}; unanswered: {missing}"
    )
    if errors:
        kinds: dict[str, int] = {}
        for r in errors:
            kinds[r.error] = kinds.get(r.error, 0) + 1
        print(f"  error kinds: {kinds}")
    cpu = f"load generator process {100 * run.client_cpu_s / run.wall_s:.0f}%"
    if run.server_cpu_s is not None:
        cpu = f"server {100 * run.server_cpu_s / run.wall_s:.0f}%, {cpu}"
    print(f"CPU used during the run (100% = one core): {cpu}")
    full, full_ms, full_max, all_ms = run.gc_pauses
    whose = "server" if run.server_mode == "process" else "process (server and load generator)"
    print(
        f"{whose} garbage collection during the run: {full:.0f} full collections, longest "
        f"{full_max:.1f} ms, {full_ms:.0f} ms in total (all generations {all_ms:.0f} ms)"
    )
    print(
        f"latency from due time (ms): p50 {_pct(latencies, 50):.2f}  p95 {_pct(latencies, 95):.2f}"
        f"  p99 {_pct(latencies, 99):.2f}  max {_pct(latencies, 100):.2f}"
        f"  mean {statistics.fmean(latencies) if latencies else float('nan'):.2f}"
    )
    print(
        f"service time from send (ms): p50 {_pct(service, 50):.2f}  p99 {_pct(service, 99):.2f}"
        f"  max {_pct(service, 100):.2f};  worst send lag behind schedule {lag:.2f} ms"
    )
    p99 = _pct(latencies, 99)
    target = run.workload.target_ms
    verdict = "meets" if latencies and p99 <= target else "MISSES"
    print(f"p99 {p99:.2f} ms: {verdict} the {target:g} ms target")
    return 0 if not errors and not missing else 1


def _watchdog(seconds: int, server_pid: list[int]) -> None:
    """SIGALRM after `seconds`: say so, kill the server child, exit (no thread needed)."""

    def expire(signum: int, frame: object) -> None:
        print(f"bench_web: hard time limit of {seconds} s reached; stopping", file=sys.stderr)
        for pid in server_pid:
            os.kill(pid, signal.SIGKILL)
        os._exit(2)

    signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--endpoint", choices=["assess", "cds", "patient-page"], default="assess")
    parser.add_argument(
        "--requests", type=int, default=100, help="patient-page: measured sequential views"
    )
    parser.add_argument("--rate", type=float, default=RATE, help="requests per second")
    parser.add_argument("--duration", type=float, default=DURATION_S, help="seconds of load")
    parser.add_argument("--server", choices=["process", "thread"], default="process")
    parser.add_argument(
        "--gc",
        choices=["freeze", "off", "freeze+threshold"],
        default="freeze",
        help="freeze: as `rplcare serve` (warm_and_freeze); off: without it; "
        "freeze+threshold: also raise the gen-0 collection threshold (experiment)",
    )
    args = parser.parse_args()
    limit = math.ceil(HARD_LIMIT_S + max(0.0, args.duration - DURATION_S))
    server_pid: list[int] = []
    _watchdog(limit, server_pid)

    if args.endpoint == "patient-page":
        with tempfile.TemporaryDirectory(prefix="rplcare-bench-") as directory:
            server = RunningServer(args.server, _seeded_database(directory), args.gc, limit + 5)
            if server.process is not None and server.process.pid is not None:
                server_pid.append(server.process.pid)
            try:
                return patient_page_run(server.port, args.requests)
            finally:
                server.stop()

    workload = _workload(args.endpoint)
    count = round(args.rate * args.duration)
    with tempfile.TemporaryDirectory(prefix="rplcare-bench-") as directory:
        server = RunningServer(args.server, _migrated_database(directory), args.gc, limit + 5)
        if server.process is not None and server.process.pid is not None:
            server_pid.append(server.process.pid)
        load = Load(server.port, workload)
        workers = [threading.Thread(target=load.worker, daemon=True) for _ in range(WORKERS)]
        for w in workers:
            w.start()
        try:
            load.run(args.rate, WARMUP_REQUESTS, measured=False)
            load.wait(WARMUP_REQUESTS, time.monotonic() + 5, measured=False)
            client_cpu, server_cpu = time.process_time(), server.cpu_seconds()
            server.gc_pauses.reset()
            load.run(args.rate, count, measured=True)
            load.wait(count, time.monotonic() + REQUEST_TIMEOUT_S, measured=True)
            client_cpu = time.process_time() - client_cpu
            server_end = server.cpu_seconds()
            gc_pauses = server.gc_pauses.read()
            server_cpu = (
                server_end - server_cpu
                if server_end is not None and server_cpu is not None
                else None
            )
            with load.lock:
                results = list(load.results)
        finally:
            for _ in workers:
                load.jobs.put(None)
            for w in workers:
                w.join(timeout=1)
            server.stop()
    first = min((r.due for r in results), default=0.0)
    last = max((r.done for r in results), default=0.0)
    run = Run(
        workload=workload,
        rate=args.rate,
        duration=args.duration,
        scheduled=count,
        server_mode=args.server,
        gc_mode=args.gc,
        results=results,
        wall_s=last - first,
        client_cpu_s=client_cpu,
        server_cpu_s=server_cpu,
        gc_pauses=gc_pauses,
    )
    return _report(run)


if __name__ == "__main__":
    sys.exit(main())
