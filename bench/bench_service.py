"""End-to-end service benchmark: the HTTP service beside the floor of what it has to do.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_service.py`` (``make bench`` runs it). It
starts every server itself as a subprocess on a free 127.0.0.1 port (``python -m uvicorn
app.main:app``, trivial loopback servers from ``bench/_serve.py``), waits for ``/healthz``
(up to 30 s) and always stops them at the end. Transfers are timed with
``curl -s -o /dev/null -w '%{time_total}'`` (httpx is ~15x slower to receive). Every timing
is repeated 3 times after one untimed warm-up and the median is reported. It prints one line
per figure (with its target and PASS/FAIL where there is one) and writes the figures as JSON
to ``bench/results/service.json``. A figure that cannot be measured is reported with the
reason, never with a number. About 1 minute on a 2-core machine (plus, once, apt-get install wrk).
Each part also records how many CPUs other processes kept busy meanwhile (/proc/stat less this
run's own CPU time) and prints a WARNING when that exceeds 0.3: its figures are then unreliable.

What is measured, and the targets:

1. Floor. (a) The fastest one-thread in-process fill of a 4096x4096 float32 tensor of the same
   distribution: ours (``generate_tensor``, 1 thread, he_uniform / he_normal laws), numpy's
   ``Generator(PCG64).random(dtype=float32)`` scaled / ``standard_normal(dtype=float32)``
   scaled, and torch's ``kaiming_uniform_`` / ``normal_`` with ``torch.set_num_threads(1)``
   when torch can be imported. (b) curl of the same number of pre-made bytes from a trivial
   loopback server (Starlette under uvicorn, and ``http.server``; the faster counts).
   floor = fill + transfer (also for 1024x1024 and 64x64).
2. Service: curl of ``GET /v1/weights/{he_uniform,he_normal}?shape=N,N&format=npy`` for
   N = 4096, 1024, 64; time and ratio to the floor. Target: 4096x4096 <= 1.3x floor.
3. JSON: 256x256 float32 ``format=json`` per-request time; in-process
   ``json.dumps(arr.tolist())`` / ``app.encoders.json_values(arr)``. Target: >= 20x.
4. Small JSON rate: 64x64 ``format=json`` at 16 connections for ~5 s (wrk, else an asyncio
   httpx client) beside a bare FastAPI endpoint returning a small constant JSON object in its
   own uvicorn process. Target: service / bare >= 0.7.
5. 1 GiB safetensors stream: ``POST /v1/models?format=safetensors`` of 4 dense 8192x8192
   float32 layers without bias (exactly 1 GiB of tensor data) with curl, while ``/healthz`` is
   polled every 20 ms from a thread and the server's VmRSS sampled every 50 ms. Targets: RSS
   growth (max - before) < 64 MiB; ``/healthz`` p99 < 50 ms.
6. Slow readers: 32 concurrent raw-socket clients ask for the same 256 MiB npy body, read
   64 KiB every 50 ms for ~5 s, then abort (RST). Target: server RSS growth < 256 MiB. Also
   shown: the server's CPU time in the 2 s after the abort (work left running for clients
   that are gone).
7. Shards: one 8-way row shard (``shard=0,3,8``) of a 16384x16384 float32 tensor / the whole
   tensor, both npy via curl. Target: <= 0.2.
8. Threads: the whole 16384x16384 he_normal npy from servers started with
   ``WEIGHTINIT_THREADS=1`` and ``=2``: time(1) / time(2), target >= 1.7; also in-process
   ``generate_tensor`` of 64 Mi float32 normals with threads=1 vs 2 (same target).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import math
import os
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np

from app.core.generate import generate_tensor
from app.core.laws import Law, NormalLaw, UniformLaw
from app.core.plans import TensorPlan
from app.core.types import DType
from app.encoders import json_values
from bench.torch_reference import torch_python, torch_seconds

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "service.json"
REPS = 3
MIB = 1 << 20
GIB = 1 << 30
NPY_HEADER = 128  # .npy v1.0 header of a 2-D float32 array, padded to 64 bytes (NEP 1)
SIDES = (4096, 1024, 64)
HEALTH_TIMEOUT = 30.0
BUSY_WARNING = 0.3  # CPUs used on average by processes other than this run's
LIVE: set[int] = set()  # pids of server processes started and not yet reaped


# --------------------------------------------------------------------------- report


@dataclass
class Figure:
    key: str
    label: str
    value: float | None
    unit: str
    target: str = ""
    passed: bool | None = None
    note: str = ""

    def line(self) -> str:
        if self.value is None:
            return f"{self.label:<46} {'n/a':>8}        not measured: {self.note}"
        shown = f"{self.value:.3f}" if abs(self.value) < 1000 else f"{self.value:.0f}"
        verdict = "" if self.passed is None else ("PASS" if self.passed else "FAIL")
        text = f"{self.label:<46} {shown:>8} {self.unit:<5}"
        if self.target:
            text += f" {self.target:<9} {verdict}"
        if self.note:
            text += f"  ({self.note})"
        return text


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def add(
        self,
        key: str,
        label: str,
        value: float,
        unit: str,
        *,
        target: tuple[str, float] | None = None,
        note: str = "",
    ) -> Figure:
        text, passed = "", None
        if target is not None:
            op, limit = target
            text = f"{op}{limit:g}"
            passed = {"<=": value <= limit, "<": value < limit, ">=": value >= limit}[op]
        figure = Figure(key, label, value, unit, text, passed, note)
        self.figures.append(figure)
        progress(figure.line())
        return figure

    def missing(self, key: str, label: str, reason: str) -> None:
        figure = Figure(key, label, None, "", note=reason)
        self.figures.append(figure)
        progress(figure.line())

    def write(self) -> None:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "cpus": len(os.sched_getaffinity(0)),
            "figures": {f.key: asdict(f) for f in self.figures},
            "warnings": self.warnings,
            "details": self.details,
        }
        RESULTS.write_text(json.dumps(payload, indent=2, default=str) + "\n")


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], object], reps: int = REPS, inner: int = 1) -> float:
    """Median over ``reps`` of the per-call time of ``inner`` back-to-back calls."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - start) / inner)
    return median(times)


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """A server subprocess on a free port, ready once ``/healthz`` answers 200."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.port = free_port()
        self.argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def uvicorn(cls, name: str, target: str, env: dict[str, str] | None = None) -> Server:
        argv = [sys.executable, "-m", "uvicorn", target, "--host", HOST, "--port", "{port}"]
        return cls(name, [*argv, "--log-level", "warning", "--app-dir", str(ROOT)], env)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def start(self) -> Server:
        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        LIVE.add(self.proc.pid)
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.tail()}")
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: /healthz not ready in {HEALTH_TIMEOUT:g} s")

    def tail(self, n: int = 600) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-n:].strip()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None:
            LIVE.discard(self.proc.pid)
        self.log.close()


@contextlib.contextmanager
def serving(*servers: Server) -> Iterator[None]:
    try:
        for server in servers:
            server.start()
        yield
    finally:
        for server in servers:
            server.stop()


# --------------------------------------------------------------------------- curl


@dataclass
class Transfer:
    seconds: float
    size: int


def curl(url: str, *, data: str | None = None, expect_size: int | None = None) -> Transfer:
    argv = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}"]
    if data is not None:
        argv += ["-X", "POST", "-H", "content-type: application/json", "--data-binary", data]
    done = subprocess.run([*argv, url], capture_output=True, text=True, timeout=300)
    code, size, seconds = done.stdout.split()
    if done.returncode != 0 or code != "200":
        raise RuntimeError(f"curl {url}: exit {done.returncode}, HTTP {code}, {size} bytes")
    if expect_size is not None and int(size) != expect_size:
        raise RuntimeError(f"curl {url}: {size} bytes, expected {expect_size}")
    return Transfer(float(seconds), int(size))


def curl_median(url: str, *, data: str | None = None, warm: bool = True) -> Transfer:
    """Median time of REPS curls (after one untimed warm-up); all must be equal-sized."""
    if warm:
        curl(url, data=data)
    runs = [curl(url, data=data) for _ in range(REPS)]
    if len({r.size for r in runs}) != 1:
        raise RuntimeError(f"curl {url}: sizes differ between runs: {[r.size for r in runs]}")
    return Transfer(median([r.seconds for r in runs]), runs[0].size)


def shortcut(scheme: str, shape: str, fmt: str = "npy", extra: str = "") -> str:
    return f"/v1/weights/{scheme}?shape={shape}&seed=1&format={fmt}{extra}"


# --------------------------------------------------------------------------- samplers


def vm_rss(pid: int) -> int:
    """Resident set size of ``pid`` in bytes (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Periodic(threading.Thread):
    """Calls ``tick`` every ``interval`` seconds until stopped."""

    def __init__(self, interval: float, tick: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.tick = tick
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            start = time.perf_counter()
            self.tick()
            self.halt.wait(max(0.0, self.interval - (time.perf_counter() - start)))

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.halt.set()
        self.join(timeout=10)


class RssSampler(Periodic):
    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.samples: list[int] = []
        super().__init__(interval, self.sample)

    def sample(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self.samples.append(vm_rss(self.pid))


class HealthPoller(Periodic):
    """GET /healthz on one keep-alive connection; records each latency (s) and errors."""

    def __init__(self, port: int, interval: float = 0.02) -> None:
        self.port = port
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.conn: http.client.HTTPConnection | None = None
        super().__init__(interval, self.poll)

    def poll(self) -> None:
        start = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
            self.conn.request("GET", "/healthz")
            response = self.conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            self.latencies.append(time.perf_counter() - start)
        except (OSError, http.client.HTTPException, RuntimeError) as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
            if self.conn is not None:
                self.conn.close()
            self.conn = None

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        if self.conn is not None:
            self.conn.close()


def percentiles_ms(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values) * 1e3
    return {
        "p50": float(np.percentile(arr, 50)),
        "p99": float(np.percentile(arr, 99)),
        "max": float(arr.max()),
        "n": float(arr.size),
    }


# --------------------------------------------------------------------------- 1. floor


def he_law(dist: str, fan_in: int) -> Law:
    if dist == "uniform":
        bound = math.sqrt(6.0 / fan_in)
        return UniformLaw(-bound, bound)
    return NormalLaw(0.0, math.sqrt(2.0 / fan_in))


def fill_candidates(dist: str, side: int) -> dict[str, Callable[[], object]]:
    shape = (side, side)
    law = he_law(dist, side)
    plan = TensorPlan("weight", shape, DType.FLOAT32, law)
    rng = np.random.Generator(np.random.PCG64(1))
    fns: dict[str, Callable[[], object]] = {
        "ours 1 thread": lambda: generate_tensor(plan, 1, threads=1)
    }
    if isinstance(law, UniformLaw):
        low, width = np.float32(law.low), np.float32(law.high - law.low)

        def numpy_uniform() -> object:
            a = rng.random(shape, dtype=np.float32)
            a *= width
            a += low
            return a

        fns["numpy PCG64 random"] = numpy_uniform
    else:
        std = np.float32(law.std)

        def numpy_normal() -> object:
            a = rng.standard_normal(shape, dtype=np.float32)
            a *= std
            return a

        fns["numpy PCG64 standard_normal"] = numpy_normal
    torch_fn = torch_fill(dist, side)
    if torch_fn is not None:
        fns["torch " + ("kaiming_uniform_" if dist == "uniform" else "normal_")] = torch_fn
    return fns


def torch_fill(dist: str, side: int) -> Callable[[], object] | None:
    try:
        import torch  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    torch.set_num_threads(1)
    std = math.sqrt(2.0 / side)

    def fill() -> object:
        t = torch.empty(side, side)
        if dist == "uniform":
            return torch.nn.init.kaiming_uniform_(t, a=0, mode="fan_in", nonlinearity="relu")
        return torch.nn.init.normal_(t, 0.0, std)

    return fill


def torch_subprocess_fill(dist: str, side: int) -> dict[str, float]:
    """torch's one-thread fill timed in .venv-bench (bench/torch_reference.py), if present."""
    setup = f"t = torch.empty({side}, {side})"
    if dist == "uniform":
        name, stmt = "torch kaiming_uniform_", "torch.nn.init.kaiming_uniform_(t, a=0)"
    else:
        std = math.sqrt(2.0 / side)
        name, stmt = "torch normal_", f"torch.nn.init.normal_(t, 0.0, {std!r})"
    result = torch_seconds(setup, stmt)
    return {} if result is None else {f"{name} ({result[1]})": result[0]}


TORCH_FILLS: dict[tuple[str, int], float] = {}


def _note_torch(report: Report) -> None:
    """Record whether torch is importable here, or timed in .venv-bench, or absent."""
    try:
        import torch  # type: ignore[import-not-found, unused-ignore]  # noqa: F401

        report.details["torch"] = "installed"
    except ImportError:
        where = "timed in .venv-bench" if torch_python() else "not installed"
        progress(f"torch: not importable here, {where}")
        report.details["torch"] = where


def _fill_times(dist: str, side: int) -> dict[str, float]:
    """Seconds per one-thread fill of every candidate (torch from .venv-bench if need be)."""
    inner = max(1, min(200, (1 << 22) // (side * side)))
    times: dict[str, float] = {}
    for name, fn in fill_candidates(dist, side).items():
        fn()  # warm-up
        times[name] = timed(fn, inner=inner)
    if not any(name.startswith("torch") for name in times):
        times.update(torch_subprocess_fill(dist, side))
    return times


def measure_fills(report: Report) -> dict[tuple[str, int], float]:
    """Fastest one-thread fill (median of 3) per (distribution, side)."""
    _note_torch(report)
    floors: dict[tuple[str, int], float] = {}
    fills: dict[str, dict[str, float]] = {}
    for dist in ("uniform", "normal"):
        for side in SIDES:
            times = _fill_times(dist, side)
            fills[f"{dist} {side}x{side}"] = times
            best = min(times, key=times.__getitem__)
            floors[(dist, side)] = times[best]
            for name, seconds in times.items():
                if name.startswith("torch"):
                    TORCH_FILLS[(dist, side)] = seconds
            if side == SIDES[0]:
                for name, seconds in times.items():
                    key = f"fill_{dist}_{side}_{name.split()[0]}"
                    report.add(key, f"fill {dist} {side}^2: {name}", seconds * 1e3, "ms")
    report.details["fills_s"] = fills
    if not TORCH_FILLS:
        report.missing("fill_torch", "fill: torch kaiming_uniform_/normal_", "torch: not installed")
    return floors


def measure_transfer_floor(report: Report) -> dict[int, tuple[float, str]]:
    """Fastest median curl of the npy-sized pre-made bytes per side: (seconds, server)."""
    candidates = {
        "Starlette (uvicorn)": Server.uvicorn("starlette bytes", "bench._serve:app"),
        "http.server": Server(
            "http.server bytes", [sys.executable, str(ROOT / "bench" / "_serve.py"), "{port}"]
        ),
    }
    results: dict[str, dict[int, float]] = {}
    for name, server in candidates.items():
        with serving(server):
            results[name] = {}
            for side in SIDES:
                n = NPY_HEADER + 4 * side * side
                results[name][side] = curl_median(server.url(f"/bytes?n={n}")).seconds
    report.details["transfer_floor_s"] = results
    best: dict[int, tuple[float, str]] = {}
    for side in SIDES:
        name = min(results, key=lambda k: results[k][side])
        best[side] = (results[name][side], name)
    side = SIDES[0]
    n = NPY_HEADER + 4 * side * side
    for name, by_side in results.items():
        seconds = by_side[side]
        report.add(
            f"transfer_64MiB_{name.split()[0].lower()}",
            f"transfer {n / MIB:.0f} MiB: {name}",
            seconds * 1e3,
            "ms",
            note=f"{n / seconds / GIB:.2f} GiB/s" + (", fastest" if name == best[side][1] else ""),
        )
    return best


# --------------------------------------------------------------------------- 2-4, 7 main server


def measure_service(
    report: Report,
    server: Server,
    fills: dict[tuple[str, int], float] | None,
    transfers: dict[int, tuple[float, str]] | None,
) -> None:
    for scheme, dist in (("he_uniform", "uniform"), ("he_normal", "normal")):
        for side in SIDES:
            key = f"service_npy_{scheme}_{side}"
            label = f"GET npy {scheme} {side}^2 / floor"
            expect = NPY_HEADER + 4 * side * side
            t = curl_median(server.url(shortcut(scheme, f"{side},{side}")))
            report.details[f"{key}_s"] = t.seconds
            if t.size != expect:
                report.missing(key, label, f"body is {t.size} bytes, expected {expect}")
                continue
            if fills is None or transfers is None:
                report.missing(key, label, f"no floor (service took {t.seconds * 1e3:.1f} ms)")
                continue
            floor = fills[(dist, side)] + transfers[side][0]
            report.details[f"floor_{dist}_{side}_s"] = floor
            report.add(
                key,
                label,
                t.seconds / floor,
                "x",
                target=("<=", 1.3) if side == SIDES[0] else None,
                note=f"{t.seconds * 1e3:.1f} ms vs floor {floor * 1e3:.1f} ms",
            )
            torch_fill_s = TORCH_FILLS.get((dist, side))
            if side == SIDES[0] and torch_fill_s is not None:
                report.add(
                    f"{key}_vs_torch",
                    f"GET npy {scheme} {side}^2 / torch in-process fill",
                    t.seconds / torch_fill_s,
                    "x",
                    target=("<", 1.0),
                    note=f"torch {torch_fill_s * 1e3:.1f} ms, 1 thread, no transfer",
                )


def measure_json(report: Report, server: Server) -> None:
    t = curl_median(server.url(shortcut("he_uniform", "256,256", "json")))
    report.add("json_256_request", "GET json he_uniform 256^2 per request", t.seconds * 1e3, "ms")
    plan = TensorPlan("weight", (256, 256), DType.FLOAT32, he_law("uniform", 256))
    arr = generate_tensor(plan, 1)
    dumps = timed(lambda: json.dumps(arr.tolist()), inner=3)
    ours = timed(lambda: json_values(arr), inner=3)
    report.add(
        "json_256_speedup",
        "json.dumps(tolist) / json_values, 256^2",
        dumps / ours,
        "x",
        target=(">=", 20),
        note=f"{dumps * 1e3:.1f} ms vs {ours * 1e3:.2f} ms",
    )


def find_wrk() -> tuple[str | None, str]:
    path = shutil.which("wrk")
    if path:
        return path, "wrk"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "wrk missing, cannot apt-get install (not root or no apt-get)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "wrk"]
    for step in ([install], [["apt-get", "update", "-qq"], install]):
        progress("wrk missing: " + " && ".join(" ".join(c) for c in step))
        try:
            for command in step:
                subprocess.run(command, env=env, capture_output=True, timeout=180, check=True)
        except (subprocess.SubprocessError, OSError):
            continue
        path = shutil.which("wrk")
        if path:
            return path, "wrk (installed with apt-get)"
    return None, "wrk missing and apt-get install wrk failed"


def wrk_rate(wrk: str, url: str, seconds: float) -> float:
    argv = [wrk, "-t2", "-c16", f"-d{seconds:g}s", url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if done.returncode != 0 or rate is None:
        raise RuntimeError(f"wrk failed: {done.stdout[-300:]} {done.stderr[-300:]}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", done.stdout)
    if bad:
        raise RuntimeError(f"wrk: {bad.group(1)} non-2xx responses from {url}")
    errors = re.search(r"Socket errors:.*", done.stdout)
    if errors:
        progress(f"wrk {url}: {errors.group(0)}")
    return float(rate.group(1))


def httpx_rate(url: str, seconds: float) -> float:
    import httpx

    async def run() -> int:
        count = 0
        deadline = time.monotonic() + seconds
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def worker() -> None:
                nonlocal count
                while time.monotonic() < deadline:
                    response = await client.get(url)
                    if response.status_code != 200:
                        raise RuntimeError(f"HTTP {response.status_code} from {url}")
                    count += 1

            await asyncio.gather(*(worker() for _ in range(16)))
        return count

    start = time.perf_counter()
    count = asyncio.run(run())
    return count / (time.perf_counter() - start)


def measure_small_rate(report: Report, server: Server) -> None:
    wrk, tool = find_wrk()
    report.details["small_json_tool"] = tool if wrk else f"httpx asyncio client ({tool})"
    progress(f"small JSON rate tool: {report.details['small_json_tool']}")
    bare = Server.uvicorn("bare FastAPI", "bench._serve:bare")
    uncached = Server.uvicorn(
        "weightinit, no cache", "app.main:app", {"WEIGHTINIT_CACHE_BYTES": "0"}
    )
    path = shortcut("he_uniform", "64,64", "json")
    with serving(bare), serving(uncached):
        urls = {
            "service": server.url(path),
            "uncached": uncached.url(path),
            "bare": bare.url("/small"),
        }
        rates = {}
        for name, url in urls.items():
            curl(url)  # warm-up
            rates[name] = wrk_rate(wrk, url, 5) if wrk else httpx_rate(url, 5)
    short = "wrk" if wrk else "httpx"
    report.add(
        "small_json_rps",
        f"64^2 json, 16 conns ({short})",
        rates["service"],
        "req/s",
        note="response cache on (the default): identical requests replay the same bytes",
    )
    report.add(
        "small_json_uncached_rps",
        f"64^2 json, 16 conns, cache off ({short})",
        rates["uncached"],
        "req/s",
        note=f"{rates['uncached'] / rates['bare']:.2f}x bare: every request generated and encoded",
    )
    report.add("bare_json_rps", f"bare FastAPI small json ({short})", rates["bare"], "req/s")
    report.add(
        "small_json_ratio",
        "64^2 json rate / bare FastAPI rate",
        rates["service"] / rates["bare"],
        "x",
        target=(">=", 0.7),
    )


def measure_shards(report: Report, server: Server) -> None:
    full = shortcut("he_uniform", "16384,16384")
    shard = curl_median(server.url(full + "&shard=0,3,8"))
    whole = curl_median(server.url(full), warm=False)
    expect_shard, expect_whole = NPY_HEADER + 4 * 2048 * 16384, NPY_HEADER + 4 * 16384 * 16384
    if (shard.size, whole.size) != (expect_shard, expect_whole):
        raise RuntimeError(f"sizes {shard.size}, {whole.size}: expected 1/8 and whole")
    report.add(
        "shard_ratio",
        "shard 0,3,8 / whole, 16384^2 npy",
        shard.seconds / whole.seconds,
        "x",
        target=("<=", 0.2),
        note=f"{shard.seconds:.2f} s vs {whole.seconds:.2f} s",
    )


# --------------------------------------------------------------------------- 5. 1 GiB stream


def measure_big_stream(report: Report) -> None:
    def model(count: int, features: int) -> str:
        dense = {"kind": "dense", "in_features": features, "out_features": features, "bias": False}
        layers = [{"name": f"l{i}", "layer": dense} for i in range(count)]
        return json.dumps({"seed": 1, "dtype": "float32", "layers": layers, "scheme": "he_normal"})

    body, warm = model(4, 8192), model(1, 64)
    server = Server.uvicorn("weightinit (1 GiB stream)", "app.main:app")
    with serving(server):
        url = server.url("/v1/models?format=safetensors")
        curl(url, data=warm)
        time.sleep(0.3)
        before = vm_rss(server.pid)
        runs = []
        with RssSampler(server.pid) as rss, HealthPoller(server.port) as health:
            for _ in range(REPS):
                runs.append(curl(url, data=body))
        if len({r.size for r in runs}) != 1 or runs[0].size < GIB:
            raise RuntimeError(f"safetensors bodies of {[r.size for r in runs]} bytes")
        seconds = median([r.seconds for r in runs])
        report.add(
            "stream_1GiB_time",
            f"POST safetensors {runs[0].size / GIB:.2f} GiB",
            seconds,
            "s",
            note=f"{runs[0].size / seconds / GIB:.2f} GiB/s",
        )
        report.details["stream_1GiB_gib_per_s"] = runs[0].size / seconds / GIB
        growth = (max(rss.samples) - before) / MIB
        report.add(
            "stream_1GiB_rss_growth",
            "  server RSS growth (max - before)",
            growth,
            "MiB",
            target=("<", 64),
            note=f"before {before / MIB:.0f} MiB, {len(rss.samples)} samples",
        )
        report_health(report, health, "stream_1GiB", "  /healthz during the stream")


def report_health(report: Report, health: HealthPoller, key: str, label: str) -> None:
    report.details[f"{key}_healthz_errors"] = health.errors[:10]
    if not health.latencies:
        report.missing(f"{key}_healthz_p99", label, f"no answers; errors: {health.errors[:3]}")
        return
    p = percentiles_ms(health.latencies)
    report.details[f"{key}_healthz_ms"] = p
    errors = f", {len(health.errors)} errors" if health.errors else ""
    report.add(
        f"{key}_healthz_p99",
        label + " p99",
        p["p99"],
        "ms",
        target=("<", 50),
        note=f"p50 {p['p50']:.1f}, max {p['max']:.1f} ms, n={p['n']:.0f}{errors}",
    )


# --------------------------------------------------------------------------- 6. slow readers


def slow_reader(port: int, path: str, deadline: float, out: list[int], status: list[str]) -> None:
    got = 0
    head = b""
    try:
        with socket.create_connection((HOST, port), timeout=10) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
            while time.monotonic() < deadline:
                chunk = s.recv(64 * 1024)
                if not chunk:
                    break
                if len(head) < 12:
                    head += chunk[:12]
                got += len(chunk)
                time.sleep(0.05)
            # Abort: RST instead of an orderly close.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        status.append(head[:12].decode(errors="replace"))
    except OSError as exc:
        status.append(f"{type(exc).__name__}: {exc}")
    out.append(got)


def measure_slow_readers(report: Report) -> None:
    path = shortcut("he_normal", "8192,8192")
    server = Server.uvicorn("weightinit (slow readers)", "app.main:app")
    with serving(server):
        curl(server.url(shortcut("he_normal", "64,64")))
        time.sleep(0.3)
        before = vm_rss(server.pid)
        got: list[int] = []
        status: list[str] = []
        with RssSampler(server.pid) as rss, HealthPoller(server.port) as health:
            deadline = time.monotonic() + 5.0
            readers = [
                threading.Thread(
                    target=slow_reader, args=(server.port, path, deadline, got, status)
                )
                for _ in range(32)
            ]
            for reader in readers:
                reader.start()
            for reader in readers:
                reader.join(timeout=30)
            aborted = len(rss.samples)
            cpu_before = cpu_seconds(server.pid)
            time.sleep(2.0)
            cpu_after = cpu_seconds(server.pid) - cpu_before
        ok = sum(s.startswith("HTTP/1.1 200") for s in status)
        settled = rss.samples[-1] if rss.samples else before
        report.details["slow_readers"] = {
            "bytes_read_MiB": sum(got) / MIB,
            "answers_200": ok,
            "statuses": sorted(set(status))[:5],
            "rss_before_MiB": before / MIB,
            "rss_max_during_MiB": max(rss.samples[:aborted], default=before) / MIB,
            "rss_2s_after_abort_MiB": settled / MIB,
            "cpu_s_in_2s_after_abort": cpu_after,
        }
        if ok != 32:
            raise RuntimeError(f"only {ok}/32 readers got HTTP 200: {sorted(set(status))[:3]}")
        growth = (max(rss.samples) - before) / MIB
        report.add(
            "slow_readers_rss_growth",
            "32 slow readers x 256 MiB: RSS growth",
            growth,
            "MiB",
            target=("<", 256),
            note=f"read {sum(got) / MIB:.0f} MiB in total; "
            f"{(settled - before) / MIB:.0f} MiB still held 2 s after abort",
        )
        report.add(
            "slow_readers_cpu_after_abort",
            "  server CPU in the 2 s after the abort",
            cpu_after,
            "s",
            note="work done for clients that are gone" if cpu_after > 0.2 else "",
        )
        report_health(report, health, "slow_readers", "  /healthz with 32 slow readers")


# --------------------------------------------------------------------------- 8. threads


def measure_threads(report: Report) -> None:
    plan = TensorPlan("weight", (1 << 26,), DType.FLOAT32, he_law("normal", 4096))
    generate_tensor(plan, 1, threads=2)
    inproc: dict[int, float] = {}
    for threads in (1, 2):
        inproc[threads] = timed(lambda: generate_tensor(plan, 1, threads=threads))  # noqa: B023
    report.add(
        "threads_inprocess_ratio",
        "64 Mi normals in-process: 1 / 2 threads",
        inproc[1] / inproc[2],
        "x",
        target=(">=", 1.7),
        note=f"{inproc[1]:.2f} s vs {inproc[2]:.2f} s",
    )
    url = shortcut("he_normal", "16384,16384")
    service: dict[int, float] = {}
    for threads in (1, 2):
        env = {"WEIGHTINIT_THREADS": str(threads)}
        server = Server.uvicorn(f"weightinit threads={threads}", "app.main:app", env)
        with serving(server):
            curl(server.url(shortcut("he_normal", "1024,1024")))  # warm-up (pool start)
            service[threads] = curl_median(server.url(url), warm=False).seconds
    # No target: issue 9's is on generation (the line above and bench_threads.py). Through
    # HTTP, once generation outruns the transfer, one event loop sending 1 GiB bounds the
    # time whatever the thread count; the line shows where that is.
    rate = (1 << 30) / min(service.values()) / (1 << 30)
    report.add(
        "threads_service_ratio",
        "GET npy he_normal 16384^2: 1 / 2 threads",
        service[1] / service[2],
        "x",
        note=f"{service[1]:.2f} s vs {service[2]:.2f} s; {rate:.2f} GiB/s: transfer-bound",
    )


# --------------------------------------------------------------------------- main


def cpu_snapshot() -> tuple[float, float]:
    """(CPU-seconds the whole machine has been busy, CPU-seconds of this run so far).

    This run is this process, its reaped children (curl, wrk, stopped servers) and the live
    servers. Softirq time (loopback networking) is counted as the machine's, so the
    difference slightly over-counts other processes.
    """
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = ticks
    busy = (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")
    t = os.times()
    own = t.user + t.system + t.children_user + t.children_system
    for pid in list(LIVE):
        with contextlib.suppress(OSError, IndexError, ValueError):
            own += cpu_seconds(pid)
    return busy, own


def section(report: Report, key: str, label: str, fn: Callable[[], object]) -> Any:
    """Run one part; record its time and how busy other processes kept the machine."""
    progress(f"-- {label}")
    start = time.perf_counter()
    busy0, own0 = cpu_snapshot()
    try:
        return fn()
    except Exception as exc:
        report.missing(key, label, f"{type(exc).__name__}: {exc}"[:300])
        return None
    finally:
        wall = time.perf_counter() - start
        busy1, own1 = cpu_snapshot()
        others = max(0.0, (busy1 - busy0) - (own1 - own0)) / wall
        report.details.setdefault("section_seconds", {})[key] = wall
        report.details.setdefault("other_processes_cpus", {})[key] = others
        if others > BUSY_WARNING:
            report.warnings.append(
                f"WARNING: other processes used {others:.2f} CPUs on average during "
                f"'{label}': its figures are unreliable"
            )
            progress(report.warnings[-1])


def main() -> None:
    if not shutil.which("curl"):
        raise SystemExit("curl is required (transfers are timed with curl)")
    report = Report()
    start = time.perf_counter()
    busy0, own0 = cpu_snapshot()
    try:
        fills = section(report, "floor_fill", "1a. fill floor", lambda: measure_fills(report))
        transfers = section(
            report, "floor_transfer", "1b. transfer floor", lambda: measure_transfer_floor(report)
        )
        main_server = Server.uvicorn("weightinit", "app.main:app")
        try:
            main_server.start()
        except Exception as exc:
            report.missing("service", "weightinit server", f"{type(exc).__name__}: {exc}"[:300])
        else:
            try:
                section(
                    report,
                    "service",
                    "2. service npy",
                    lambda: measure_service(report, main_server, fills, transfers),
                )
                section(report, "json", "3. JSON", lambda: measure_json(report, main_server))
                section(
                    report,
                    "small_json",
                    "4. small JSON rate",
                    lambda: measure_small_rate(report, main_server),
                )
                section(report, "shards", "7. shards", lambda: measure_shards(report, main_server))
            finally:
                main_server.stop()
        section(report, "stream_1GiB", "5. 1 GiB stream", lambda: measure_big_stream(report))
        section(report, "slow_readers", "6. slow readers", lambda: measure_slow_readers(report))
        section(report, "threads", "8. threads", lambda: measure_threads(report))
    finally:
        total = time.perf_counter() - start
        busy1, own1 = cpu_snapshot()
        others = max(0.0, (busy1 - busy0) - (own1 - own0)) / total
        report.details["total_seconds"] = total
        report.details["other_processes_cpus_overall"] = others
        report.write()
        print(
            f"weightinit service benchmark: {len(os.sched_getaffinity(0))} CPUs, median of 3; "
            f"other processes used {others:.2f} CPUs on average meanwhile"
        )
        for figure in report.figures:
            print(figure.line())
        for warning in report.warnings:
            print(warning)
        failed = sum(f.passed is False for f in report.figures)
        missing = sum(f.value is None for f in report.figures)
        print(
            f"{failed} target(s) missed, {missing} figure(s) not measured; "
            f"{total:.0f} s; wrote {RESULTS.relative_to(ROOT)}"
        )


if __name__ == "__main__":
    main()
