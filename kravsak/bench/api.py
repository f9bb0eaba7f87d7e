"""The HTTP API's stage of `make bench`, or on its own: `python -m kravsak.bench.api [--quick]`.

Two figures, each beside a baseline measured in the same run:

- **api bulk intake**: billing-system invoices through `POST /commands/issue_invoice/bulk` (NDJSON
  in, one NDJSON result per invoice out, 10 000 invoices a request) into the event store — from the
  first byte sent to the last result line received; invoices/s. Baseline: the same number of
  invoices issued by the domain directly (`unit_of_work` batches of the same size with the same
  preload, no HTTP): the ratio is what the edge costs. Target ≥ 2 000 invoices/s.
- **api command latency**: single `register_payment` commands (each with its own Idempotency-Key)
  offered at 100 requests/s on the clock for 20 s (after 2 s of warm-up), latency from sending each
  request to its answer; p50 and p99. The latency from each request's due time and how late the
  load generator itself was (it shares the 2 cores) are in the details. Baseline: `GET /health`
  offered the same way (the HTTP floor: uvicorn, the middleware, the client). Target p99 < 50 ms.

The server runs as its own process (`kravsak serve`'s code) so the load generator does not share its
interpreter; tokens come from the local OpenID provider. Everything the run creates lives in the
PostgreSQL schemas `bench_<tag>_api` (event store) and `bench_<tag>_web` (idempotency, access log),
dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from kravsak import logs
from kravsak.bench.figures import RESULTS_DIR, Figure, Target, fmt_number, percentile, result_document
from kravsak.bench.main import machine_at_end, machine_info
from kravsak.bench.report import console, print_report
from kravsak.bench.scratch import create_event_store, drop_event_store
from kravsak.settings import Settings, load_settings, office_secret

TARGETS = {
    "api_bulk_intake": Target(">=", 2_000, "invoices/s"),
    "api_command_latency": Target("<", 50, "ms p99"),
}
CREDITOR, OFFICE = "5601", "bench-office"
ON = date(2025, 3, 3)


class ApiServer:
    """The API in a child process on a free loopback port, on its own schemas and id namespace."""

    def __init__(self, settings: Settings, tag: str) -> None:
        self.settings = settings
        self.schema, self.web_schema = f"bench_{tag}_api", f"bench_{tag}_web"
        self.namespace = uuid.uuid4()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ApiServer:
        create_event_store(self.settings.pg_dsn, self.schema)
        command = [sys.executable, "-m", "kravsak.bench.api", "--serve", str(self.port), self.schema,
                   self.web_schema, str(self.namespace)]  # fmt: skip
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API server exited with code {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the API server did not become ready within 60 s")

    def cpu(self) -> float:
        assert self.process is not None
        return cpu_seconds(self.process.pid)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        drop_event_store(self.settings.pg_dsn, self.schema)
        drop_event_store(self.settings.pg_dsn, self.web_schema)


def serve(port: int, schema: str, web_schema: str, namespace: str) -> None:
    """The child: `kravsak serve` with the bench's schemas and a fixed business date."""
    from kravsak.serve import run, web_config

    settings = load_settings()
    logs.configure("json", level="WARNING")
    config = web_config(settings, namespace=uuid.UUID(namespace), today=lambda: ON)
    config = type(config)(
        **{**config.__dict__, "eventsourcing_env": settings.eventsourcing_env(POSTGRES_SCHEMA=schema),
           "web_schema": web_schema},
    )  # fmt: skip
    run(config, "127.0.0.1", port)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a process has used, from ``/proc/<pid>/stat``: what a request
    costs the server whatever the neighbours on a shared machine take."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def token(settings: Settings, **params: str) -> str:
    answer = httpx.post(
        f"{settings.staff_issuer}/token",
        data={"grant_type": "client_credentials", "client_id": f"bench-{uuid.uuid4().hex[:6]}", "client_secret": "x",
              **params},
        timeout=10,
    )  # fmt: skip
    answer.raise_for_status()
    access: str = answer.json()["access_token"]
    return access


def setup(settings: Settings, server: ApiServer, debtors: int) -> None:
    """The creditor (through the API) and the debtors (directly: set-up, not measured)."""
    lead = token(settings, role="office_lead", office=OFFICE)
    body = {"creditor": CREDITOR, "name": "Alta", "jurisdiction": "NO", "office": OFFICE}
    answer = httpx.post(f"{server.url}/commands/register_creditor", json=body, timeout=30,
                        headers={"Authorization": f"Bearer {lead}", "Idempotency-Key": "bench-creditor"})  # fmt: skip
    answer.raise_for_status()
    app = _domain(settings, server)
    with app.unit_of_work():
        for i in range(debtors):
            app.register_debtor(office=OFFICE, ref=f"D{i}", kind="person", jurisdiction="NO", on=ON,
                                command_id=f"bench-d{i}")  # fmt: skip
    app.close()


def _domain(settings: Settings, server: ApiServer) -> Any:
    from domain.application import CollectionApp

    return CollectionApp(
        settings.eventsourcing_env(POSTGRES_SCHEMA=server.schema),
        namespace=server.namespace,
        office_secret=office_secret(settings),
    )


def invoices(prefix: str, count: int, debtors: int) -> list[dict[str, str]]:
    return [
        {"creditor": CREDITOR, "invoice": f"{prefix}-{i}", "amount": f"{100 + i % 900}.00", "due": "2025-02-15",
         "claim_type": "barnehage", "debtor": f"D{i % debtors}"}
        for i in range(count)
    ]  # fmt: skip


def measure_bulk(
    settings: Settings, server: ApiServer, requests: int, per_request: int, debtors: int
) -> dict[str, Any]:
    billing = token(settings, role="billing_system", municipality=CREDITOR)
    runs = []
    with httpx.Client(timeout=600) as client:
        for r in range(requests):
            body = "".join(json.dumps(i) + "\n" for i in invoices(f"B{r}", per_request, debtors)).encode()
            headers = {"Authorization": f"Bearer {billing}", "Idempotency-Key": f"bench-bulk-{r}",
                       "Content-Type": "application/x-ndjson"}  # fmt: skip
            started, cpu = time.perf_counter(), server.cpu()
            accepted = 0
            with client.stream("POST", f"{server.url}/commands/issue_invoice/bulk", content=body, headers=headers) as a:
                a.raise_for_status()
                for line in a.iter_lines():
                    accepted += json.loads(line)["accepted"]
            seconds, cpu = time.perf_counter() - started, server.cpu() - cpu
            runs.append({"invoices": per_request, "accepted": accepted, "seconds": round(seconds, 3),
                         "invoices_per_s": per_request / seconds, "body_bytes": len(body),
                         "server_cpu_ms_per_invoice": round(cpu * 1000 / per_request, 3)})  # fmt: skip
    total = sum(r["invoices"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    stored = _claims_stored(settings, server)
    cpu_ms = sum(r["server_cpu_ms_per_invoice"] * r["invoices"] for r in runs) / total
    return {"runs": runs, "invoices": total, "seconds": seconds, "invoices_per_s": total / seconds,
            "claims_in_event_store": stored, "server_cpu_ms_per_invoice": round(cpu_ms, 3)}  # fmt: skip


def _claims_stored(settings: Settings, server: ApiServer) -> int:
    import psycopg
    from psycopg import sql

    with psycopg.connect(settings.pg_dsn) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_name LIKE %s",
            (server.schema, "%events"),
        ).fetchall()
        name = next(t[0] for t in tables if "snapshot" not in t[0])
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.{} WHERE topic LIKE %s").format(
                sql.Identifier(server.schema), sql.Identifier(name)
            ),
            ("%Claim.Invoiced",),
        ).fetchone()
    return int(row[0]) if row else 0


def measure_domain_baseline(
    settings: Settings, server: ApiServer, count: int, batch: int, debtors: int
) -> dict[str, Any]:
    """The same invoices through the domain alone: the same batches, the same preloads (aggregates and
    command ids, as the bulk intake does), no HTTP."""
    app = _domain(settings, server)
    items = invoices("BASE", count, debtors)
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, count, batch):
        chunk = items[start : start + batch]
        with app.unit_of_work():
            app.preload_invoices([(i["creditor"], i["invoice"], i["debtor"]) for i in chunk])
            app.preload_commands("creditor", [(i["creditor"], f"base/{start + n}") for n, i in enumerate(chunk)])
            for n, i in enumerate(chunk):
                app.issue_invoice(creditor=i["creditor"], invoice=i["invoice"], amount=Decimal(i["amount"]),
                                  due=date(2025, 2, 15), claim_type=i["claim_type"], debtor_ref=i["debtor"], on=ON,
                                  command_id=f"base/{start + n}")  # fmt: skip
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    app.close()
    return {"invoices": count, "seconds": seconds, "invoices_per_s": count / seconds,
            "cpu_ms_per_invoice": round(cpu * 1000 / count, 3)}  # fmt: skip


def offer(url: str, rate: float, seconds: float, request: Any, workers: int = 8, first: int = 0) -> dict[str, Any]:
    """Send ``request(client, n)`` at ``rate`` per second on the clock. Each latency is taken from the
    moment the request was sent to its answer; how late the client itself was in sending (the load
    generator shares the machine) is reported beside it, and the latency from each request's due time."""
    total = int(rate * seconds)
    due: queue.Queue[tuple[int, float] | None] = queue.Queue()
    sent_ms: list[float] = []
    due_ms: list[float] = []
    late_ms: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while (item := due.get()) is not None:
                n, at = item
                wait = at - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                began = time.perf_counter()
                answer = request(client, n)
                done = time.perf_counter()
                with lock:
                    sent_ms.append((done - began) * 1000)
                    due_ms.append((done - at) * 1000)
                    late_ms.append(max(began - at, 0.0) * 1000)
                    if answer.status_code != 200:
                        failures.append(f"{answer.status_code}: {answer.text[:200]}")

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    start = time.perf_counter() + 0.2
    for n in range(total):
        due.put((first + n, start + n / rate))
    for _ in threads:
        due.put(None)
    for t in threads:
        t.join()
    wall = max(time.perf_counter() - start, 1e-9)
    return {
        "requests": total,
        "offered_per_s": rate,
        "achieved_per_s": total / wall,
        "p50_ms": percentile(sent_ms, 50),
        "p99_ms": percentile(sent_ms, 99),
        "max_ms": max(sent_ms),
        "from_due_p50_ms": percentile(due_ms, 50),
        "from_due_p99_ms": percentile(due_ms, 99),
        "client_late_p99_ms": percentile(late_ms, 99),
        "failures": len(failures),
        "first_failures": failures[:3],
    }


def measure_latency(
    settings: Settings, server: ApiServer, rate: float, seconds: float, open_invoices: int
) -> dict[str, Any]:
    caseworker = token(settings, role="caseworker", office=OFFICE)
    auth = {"Authorization": f"Bearer {caseworker}"}
    run = uuid.uuid4().hex[:6]

    def payment(client: httpx.Client, n: int) -> httpx.Response:
        body = {"creditor": CREDITOR, "invoice": f"B0-{(n * 7919) % open_invoices}", "amount": "1.00"}
        return client.post("/commands/register_payment", json=body, headers={**auth, "Idempotency-Key": f"{run}-{n}"})

    def health(client: httpx.Client, n: int) -> httpx.Response:
        return client.get("/health")

    offer(server.url, rate, 2.0, health)  # warm-up, not counted: connections, the key set, the first loads
    offer(server.url, rate, 2.0, payment, first=10**6)
    cpu = server.cpu()
    floor = offer(server.url, rate, min(seconds, 10.0), health)
    floor["server_cpu_ms_per_request"] = round((server.cpu() - cpu) * 1000 / floor["requests"], 3)
    cpu = server.cpu()
    command = offer(server.url, rate, seconds, payment)
    command["server_cpu_ms_per_request"] = round((server.cpu() - cpu) * 1000 / command["requests"], 3)
    return {"health": floor, "command": command}


def measure(settings: Settings, *, quick: bool = False) -> dict[str, Any]:
    """Both figures' numbers (the raw result)."""
    per_request, requests = (2_000, 1) if quick else (10_000, 2)
    debtors = 500 if quick else 2_000
    rate, seconds = 100.0, (5.0 if quick else 20.0)
    tag = uuid.uuid4().hex[:8]
    with ApiServer(settings, tag) as server:
        console.print(f"api: server on {server.url}; {debtors} debtors")
        setup(settings, server, debtors)
        console.print(f"api: bulk intake, {requests} × {per_request} invoices")
        bulk = measure_bulk(settings, server, requests, per_request, debtors)
        console.print("api: baseline, the same invoices through the domain alone")
        baseline = measure_domain_baseline(settings, server, per_request, 500, debtors)
        console.print(f"api: single commands at {rate:g}/s for {seconds:g} s (and /health as the floor)")
        latency = measure_latency(settings, server, rate, seconds, per_request)
    return {"bulk": bulk, "bulk_baseline": baseline, "latency": latency,
            "sizes": {"per_request": per_request, "requests": requests, "debtors": debtors, "rate": rate,
                      "seconds": seconds}}  # fmt: skip


def figures(raw: dict[str, Any]) -> list[Figure]:
    bulk, base, lat = raw["bulk"], raw["bulk_baseline"], raw["latency"]
    command, health = lat["command"], lat["health"]
    short = command["achieved_per_s"] < 0.95 * command["offered_per_s"] or command["failures"]
    return [
        Figure(
            "api_bulk_intake",
            bulk["invoices_per_s"],
            "invoices/s",
            f"{fmt_number(bulk['invoices_per_s'])} invoices/s\n({bulk['invoices']} through the API, "
            f"{bulk['claims_in_event_store']} claims stored;\n"
            f"server CPU {fmt_number(bulk.get('server_cpu_ms_per_invoice'))} ms per invoice)",
            baseline=base["invoices_per_s"],
            baseline_shown=f"domain alone, same batches: {fmt_number(base['invoices_per_s'])} invoices/s",
            target=TARGETS["api_bulk_intake"],
            details={"api": bulk, "domain": base},
        ),
        Figure(
            "api_command_latency",
            command["p99_ms"],
            "ms p99",
            f"p50 {fmt_number(command['p50_ms'])} ms, p99 {fmt_number(command['p99_ms'])} ms\n"
            f"at {fmt_number(command['achieved_per_s'])} of {fmt_number(command['offered_per_s'])} commands/s;\n"
            f"server CPU {fmt_number(command.get('server_cpu_ms_per_request'))} ms per command",
            baseline=health["p99_ms"],
            baseline_shown=f"GET /health: p50 {fmt_number(health['p50_ms'])} ms, p99 {fmt_number(health['p99_ms'])} ms",
            target=TARGETS["api_command_latency"],
            missed_because=(
                f"{command['failures']} failures; achieved {command['achieved_per_s']:.0f}/s" if short else None
            ),
            details=lat,
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kravsak.bench.api", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run (~1 min)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder of the result JSON")
    parser.add_argument(
        "--serve", nargs=4, metavar=("PORT", "SCHEMA", "WEB_SCHEMA", "NAMESPACE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.serve:
        serve(int(args.serve[0]), args.serve[1], args.serve[2], args.serve[3])
        return 0
    logs.configure("console", level=os.environ.get("KRAVSAK_LOG_LEVEL", "WARNING"))
    settings = load_settings()
    started = datetime.now(UTC)
    machine = machine_info(settings)
    raw = measure(settings, quick=args.quick)
    machine_at_end(machine)
    found = figures(raw)
    document = result_document(
        started=started,
        wall_seconds=(datetime.now(UTC) - started).total_seconds(),
        machine=machine,
        figures=found,
        sizes={**raw["sizes"], "quick": args.quick},
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{started.date().isoformat()}-api.json"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    print_report(document, found, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
