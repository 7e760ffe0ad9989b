"""``weightinit``: the service from the command line, remote (default) or in-process (``--local``).

    weightinit schemes
    weightinit get he_normal --shape 256,784 --seed 1 -o w.npy
    weightinit model spec.json -o model.safetensors
    weightinit audit model.safetensors [--request spec.json]
    weightinit diagnose spec.json [-o plot.svg]

Remote requests go to ``--url`` (default ``$WEIGHTINIT_URL``, else http://127.0.0.1:8000)
through :mod:`weightinit_client`, with ``--api-key`` (default ``$WEIGHTINIT_API_KEY``) for a
service that has API keys; ``--local`` runs the same validation, planning, generation
and encoding in this process with no server, so both give the same bytes. The output format
follows the file suffix (.npy, .npz, .safetensors, .json) unless ``--format`` is given.

This module ships with the client (``weightinit-client``, numpy and httpx only). ``--local``
needs the server package as well (``app``, of the ``weightinit`` distribution): it is
imported only then, with :mod:`importlib`, and without it the command fails with a message
that says so (exit code 2).

Exit codes: 0 success, 1 request refused or service unreachable, 2 usage error (``--local``
without the server package included), 3 an audit that did not pass.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

# The SDK (.client, ._core: httpx, numpy) and the service (app.jobs, app.core: pydantic,
# the scheme registry) are imported in the functions that use them, and the package's
# __init__ imports its modules on first use: `weightinit --help` starts in 0.03 s, against
# 0.27 s with the SDK and 0.5 s with both imported up here, and a remote command never loads
# pydantic or the registry.

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_AUDIT = 3
SERVER_PACKAGE = "app"
NO_SERVER = (
    "--local needs the weightinit server package ('app', from the 'weightinit' distribution: "
    "'make install' in its repository, or 'pip install .' there), which is not installed "
    "here; without it, point --url (or $WEIGHTINIT_URL) at a running service"
)
FORMATS = ("npy", "npz", "safetensors", "json")
DIAGNOSE_FORMATS = ("json", "svg", "png")
MODEL_FORMATS = ("npz", "safetensors", "json")
_CHUNK = 1 << 20


class CliError(Exception):
    """A one-line message for stderr and an exit code."""

    def __init__(self, message: str, code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# ---- argument parsing ------------------------------------------------------------------------


def _dims(text: str) -> list[int]:
    try:
        dims = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if any(d <= 0 for d in dims):
        raise argparse.ArgumentTypeError(f"dimensions must be positive, got {text!r}")
    return dims


def _seed(text: str) -> int:
    if not text.isdigit() or int(text) >= 2**64:
        raise argparse.ArgumentTypeError(f"seed must be an integer in 0..2**64-1, got {text!r}")
    return int(text)


def _param(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    value: object = raw
    for convert in (int, float):
        try:
            value = convert(raw)
            break
        except ValueError:
            continue
    return key, value


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    where = common.add_argument_group("where")
    where.add_argument(
        "--url",
        default=None,
        help="service URL (default: $WEIGHTINIT_URL, else http://127.0.0.1:8000)",
    )
    where.add_argument(
        "--local",
        action="store_true",
        help="compute in this process, no server needed (needs the server package installed)",
    )
    where.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    where.add_argument(
        "--api-key",
        default=None,
        metavar="KEY",
        help="API key for a service that requires one (default: $WEIGHTINIT_API_KEY)",
    )

    parser = _Parser(
        prog="weightinit",
        description="Initialised neural-network weights from the weightinit service.",
        epilog="Exit codes: 0 ok, 1 request refused or service unreachable, 2 usage error, "
        "3 an audit that did not pass.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    schemes = sub.add_parser(
        "schemes", parents=[common], help="list the schemes", description="List every scheme."
    )
    schemes.add_argument("--json", action="store_true", help="print the registry as JSON")

    get = sub.add_parser(
        "get",
        parents=[common],
        help="one raw tensor from a scheme",
        description="One tensor named 'weight' (POST /v1/weights, layer kind 'tensor').",
    )
    get.add_argument("scheme", help="scheme name or alias (weightinit schemes)")
    get.add_argument("--shape", type=_dims, required=True, help="comma-separated, e.g. 256,784")
    get.add_argument("--seed", type=_seed, required=True, help="0..2**64-1")
    get.add_argument("--dtype", default="float32", help="float32, float64, float16, bfloat16")
    get.add_argument("--layout", default="torch", help="torch, keras or jax")
    get.add_argument(
        "--algorithm", default="blocks-v1", help="blocks-v1, numpy-legacy or jax-threefry"
    )
    get.add_argument(
        "--param",
        type=_param,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a scheme parameter, e.g. --param gain=2 (repeatable)",
    )
    get.add_argument(
        "--parallel",
        type=int,
        default=1,
        metavar="N",
        help="download in N ranged pieces at once (remote, to a file); the bytes are the same",
    )
    get.add_argument(
        "--verify",
        action="store_true",
        help="check the tensor's sha256 against POST /v1/weights/digests (remote npy)",
    )
    get.add_argument("--slice", default=None, help="only this part, e.g. 0:1024,2048:")
    get.add_argument(
        "--shard", default=None, metavar="DIM,INDEX,COUNT", help="only this shard, e.g. 0,3,8"
    )
    get.add_argument("--fan-in", type=float, default=None, help="override the fan-in")
    get.add_argument("--fan-out", type=float, default=None, help="override the fan-out")
    _output_args(get, FORMATS, "npy")

    model = sub.add_parser(
        "model",
        parents=[common],
        help="many named layers from a JSON spec",
        description="Every tensor of a model; SPEC is a POST /v1/models body ('-' for stdin).",
    )
    model.add_argument("spec", help="JSON file with a /v1/models body, or - for stdin")
    _output_args(model, MODEL_FORMATS, "safetensors")

    audit = sub.add_parser(
        "audit",
        parents=[common],
        help="check a safetensors file's tensors against their init manifest",
        description="Compute each tensor's statistics (float64, chunk by chunk) and check them "
        "with POST /v1/audit against the init manifest in the file's __metadata__ (written "
        "with manifest=true), or against --request.",
    )
    audit.add_argument("file", help="a .safetensors file")
    audit.add_argument(
        "--request",
        default=None,
        metavar="BODY.json",
        help="the /v1/models or /v1/weights body the file should follow (default: the "
        "manifest in the file)",
    )
    audit.add_argument("--z", type=float, default=None, help="standard errors allowed (6)")
    audit.add_argument("--json", action="store_true", help="print the whole report as JSON")
    diagnose = sub.add_parser(
        "diagnose",
        parents=[common],
        help="signal propagation through an initialised chain (POST /v1/diagnostics)",
        description="Push a seeded batch through a chain initialised as POST /v1/models would "
        "and print, per layer, the activation and gradient std beside the mean-field "
        "prediction, dead and saturated fractions and symmetry; SPEC is a POST /v1/diagnostics "
        "body ('-' for stdin). With -o, write the JSON document or the plot (.json, .svg, .png).",
    )
    diagnose.add_argument("spec", help="JSON file with a /v1/diagnostics body, or - for stdin")
    diagnose.add_argument(
        "-o", "--output", default=None, help="write the document or plot here (.json, .svg, .png)"
    )
    diagnose.add_argument(
        "--format", choices=DIAGNOSE_FORMATS, default=None, help="override the suffix"
    )
    return parser


def _output_args(parser: argparse.ArgumentParser, formats: tuple[str, ...], default: str) -> None:
    parser.add_argument(
        "-o",
        "--output",
        default="-",
        help=f"output file; its suffix picks the format (default: stdout, {default})",
    )
    parser.add_argument("--format", choices=formats, default=None, help="override the suffix")


def _format_of(args: argparse.Namespace, formats: tuple[str, ...], default: str) -> str:
    if args.format is not None:
        return str(args.format)
    if args.output == "-":
        return default
    suffix = Path(args.output).suffix.lstrip(".").lower()
    if suffix not in formats:
        raise CliError(
            f"cannot tell the format from {args.output!r}: use a suffix in "
            f"{', '.join('.' + f for f in formats)} or --format",
            EXIT_USAGE,
        )
    return suffix


# ---- local (in-process) ----------------------------------------------------------------------


def server_module(name: str) -> ModuleType:
    """``app.<name>`` of the server package, for ``--local``; a :class:`CliError` naming the
    package (exit code 2) when it is not installed. Imported here and only here, so the client
    installs and runs without it."""
    try:
        return importlib.import_module(f"{SERVER_PACKAGE}.{name}")
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing != SERVER_PACKAGE and not missing.startswith(f"{SERVER_PACKAGE}."):
            raise  # the server is there but one of its own dependencies is not: say which
        raise CliError(NO_SERVER, EXIT_USAGE) from None


def local_job(op: str, body: dict[str, Any], fmt: str) -> tuple[Any, Any]:
    """``body`` validated and planned as the service does it (app.jobs): the job and the
    settings (limits from the WEIGHTINIT_* environment); a refused body is a CliError."""
    jobs = server_module("jobs.job")
    requests = server_module("jobs.requests")
    weightinit_error = server_module("core.errors").WeightInitError
    validation_error = importlib.import_module("pydantic").ValidationError  # a server dependency
    settings = server_module("jobs.limits").Settings.from_env()
    selection = jobs.Selection(fmt)
    try:
        if op == "weights":
            request = requests.WeightsRequest.model_validate(body)
            job = jobs.weights_job(request, settings, selection)
        else:
            job = jobs.model_job(requests.ModelRequest.model_validate(body), settings, selection)
    except validation_error as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ()))
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise CliError(f"invalid request: {field}: {first.get('msg', '')}{more}") from None
    except weightinit_error as exc:
        raise CliError(f"invalid request: {exc}") from None
    return job, settings


def local_chunks(op: str, body: dict[str, Any], fmt: str) -> tuple[Iterator[bytes], int | None]:
    """The response body the service would send, produced in this process: its chunks and
    size (validation, limits, planning and the pool are the service's own, app.jobs)."""
    job, settings = local_job(op, body, fmt)
    weightinit_error = server_module("core.errors").WeightInitError
    response = server_module("jobs.body").build_body(job)
    pool = server_module("jobs.pool").GenerationPool(settings.threads)

    def chunks() -> Iterator[bytes]:
        try:
            yield from pool.iterate(response.pieces())
        except weightinit_error as exc:
            raise CliError(f"invalid request: {exc}") from None
        finally:
            pool.shutdown()

    return chunks(), response.size


def local_schemes() -> list[dict[str, Any]]:
    """The registry as GET /v1/schemes lists it, from the server package in this process."""
    schemes = server_module("core.schemes")
    registry = server_module("jobs.registry")
    return [registry.scheme_out(s) for s in schemes.SCHEMES.values()]


# ---- output ----------------------------------------------------------------------------------


def _write_chunks(output: str, chunks: Iterable[bytes], size: int | None) -> None:
    from .client import write_chunks

    if output == "-":
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return
    write_chunks(Path(output), chunks, size, sys.stderr)


def _write_bytes(output: str, content: bytes) -> None:
    pieces = (content[start : start + _CHUNK] for start in range(0, len(content), _CHUNK))
    _write_chunks(output, pieces, len(content))


def _produce(args: argparse.Namespace, op: str, body: dict[str, Any], fmt: str) -> None:
    if args.local:
        chunks, size = local_chunks(op, body, fmt)
        _write_chunks(args.output, chunks, size)
        return
    from .client import Client

    with Client(args.url, timeout=args.timeout, api_key=args.api_key) as client:
        if args.output == "-":
            content, _ = client.request_bytes("weights" if op == "weights" else "models", body, fmt)
            _write_bytes("-", content)
        else:
            client.download(
                args.output, body, op="weights" if op == "weights" else "models", format=fmt
            )


# ---- commands --------------------------------------------------------------------------------


def cmd_schemes(args: argparse.Namespace) -> None:
    if args.local:
        schemes = local_schemes()
    else:
        from .client import Client

        with Client(args.url, timeout=args.timeout, api_key=args.api_key) as client:
            schemes = client.schemes()
    if args.json:
        print(json.dumps({"schemes": schemes}, indent=2))
        return
    width = max(len(s["name"]) for s in schemes)
    for s in schemes:
        aliases = f" (aliases: {', '.join(s['aliases'])})" if s["aliases"] else ""
        print(f"{s['name']:<{width}}  {s['summary']}{aliases}")


def cmd_get(args: argparse.Namespace) -> None:
    fmt = _format_of(args, FORMATS, "npy")
    layer: dict[str, Any] = {"kind": "tensor", "shape": args.shape}
    if args.fan_in is not None:
        layer["fan_in"] = args.fan_in
    if args.fan_out is not None:
        layer["fan_out"] = args.fan_out
    params = dict(args.param)
    scheme: str | dict[str, Any] = {"name": args.scheme, **params} if params else args.scheme
    if args.verify and (args.local or args.output == "-" or fmt != "npy"):
        raise CliError("--verify checks a remote .npy download: give -o FILE.npy", EXIT_USAGE)
    if args.parallel > 1 and (args.output == "-" or fmt == "json"):
        raise CliError("--parallel writes ranged pieces of a binary file: give -o FILE", EXIT_USAGE)
    if not args.local and (args.parallel > 1 or args.verify):
        _ranged_get(args, fmt, params)
        return
    from .client import weights_body

    body = weights_body(
        layer,
        seed=args.seed,
        scheme=scheme,
        dtype=args.dtype,
        layout=args.layout,
        algorithm=args.algorithm,
    )
    if args.slice is not None:
        body["slice"] = args.slice
    if args.shard is not None:
        body["shard"] = dict(zip(("dim", "index", "count"), _shard_of(args.shard), strict=True))
    _produce(args, "weights", body, fmt)


def _shard_of(text: str) -> tuple[int, int, int]:
    try:
        dim, index, count = (int(part) for part in text.split(","))
    except ValueError:
        raise CliError(f"--shard must be DIM,INDEX,COUNT, got {text!r}", EXIT_USAGE) from None
    return dim, index, count


def _ranged_get(args: argparse.Namespace, fmt: str, params: dict[str, object]) -> None:
    """The GET shortcut in --parallel ranged pieces, optionally verified against digests."""
    from .client import Client

    if args.fan_in is not None or args.fan_out is not None or args.algorithm != "blocks-v1":
        raise CliError("--parallel/--verify take no --fan-in, --fan-out or --algorithm", EXIT_USAGE)
    shard = _shard_of(args.shard) if args.shard is not None else None
    with Client(args.url, timeout=args.timeout, api_key=args.api_key) as client:
        client.download_tensor(
            args.output,
            args.scheme,
            args.shape,
            seed=args.seed,
            parallel=max(1, args.parallel),
            verify=args.verify,
            dtype=args.dtype,
            layout=args.layout,
            format=fmt,
            slice=args.slice,
            shard=shard,
            params=params,
        )


def cmd_model(args: argparse.Namespace) -> None:
    fmt = _format_of(args, MODEL_FORMATS, "safetensors")
    try:
        text = sys.stdin.read() if args.spec == "-" else Path(args.spec).read_text()
    except OSError as exc:
        raise CliError(f"cannot read spec {args.spec!r}: {exc.strerror}", EXIT_USAGE) from None
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise CliError(f"spec {args.spec!r} is not JSON: {exc}", EXIT_USAGE) from None
    if not isinstance(body, dict):
        raise CliError(f"spec {args.spec!r} must be a JSON object (a /v1/models body)", EXIT_USAGE)
    _produce(args, "models", body, fmt)


def _read_json(path: str, what: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        body = json.loads(text)
    except OSError as exc:
        raise CliError(f"cannot read {what} {path!r}: {exc.strerror}", EXIT_USAGE) from None
    except ValueError as exc:
        raise CliError(f"{what} {path!r} is not JSON: {exc}", EXIT_USAGE) from None
    if not isinstance(body, dict):
        raise CliError(f"{what} {path!r} must be a JSON object", EXIT_USAGE)
    return body


def _local_request(model: str, body: dict[str, Any], run: Callable[[Any, Any], Any]) -> Any:
    """``run(validated body, settings)`` in process, with the server's messages: a body model
    of ``app.jobs`` (``module:Class``), validated once."""
    module, _, name = model.partition(":")
    request_model = getattr(server_module(module), name)
    settings = server_module("jobs.limits").Settings.from_env()
    weightinit_error = server_module("core.errors").WeightInitError
    validation_error = importlib.import_module("pydantic").ValidationError
    try:
        return run(request_model.model_validate(body), settings)
    except validation_error as exc:
        listed = server_module("api.messages").validation_errors(exc.errors(), request_model)
        first = listed[0]
        raise CliError(f"invalid request: {first['field']}: {first['message']}") from None
    except weightinit_error as exc:
        raise CliError(f"invalid request: {exc}") from None


def _local_audit(body: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = _local_request(
        "jobs.audit_requests:AuditRequest", body, server_module("jobs.audit").audit_request
    )
    return report


def cmd_audit(args: argparse.Namespace) -> None:
    from .audit import audit_body, safetensors_stats

    request = _read_json(args.request, "request") if args.request is not None else None
    try:
        manifest, stats = safetensors_stats(args.file)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {args.file!r}: {exc}", EXIT_USAGE) from None
    expected = request if request is not None else manifest
    if expected is None:
        raise CliError(
            f"{args.file} has no init manifest in its __metadata__ (download it with "
            "?manifest=true): give the body it was made from with --request BODY.json",
            EXIT_USAGE,
        )
    body = audit_body(expected, stats, args.z)
    if args.local:
        report = _local_audit(body)
    else:
        from .client import Client

        with Client(args.url, timeout=args.timeout, api_key=args.api_key) as client:
            report = client.audit_stats(body)
    _print_report(report, as_json=args.json)
    if not report["summary"]["passed"]:
        raise CliError("the audit did not pass (see above)", EXIT_AUDIT)


def _print_report(report: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, indent=2))
        return
    for tensor in report["tensors"]:
        if tensor["verdict"] != "ok":
            rule = f" [rule {tensor['violated_rule']}]" if tensor.get("violated_rule") else ""
            print(f"{tensor['verdict']:<14} {tensor['name']}: {tensor['message']}{rule}")
    summary = report["summary"]
    counts = ", ".join(
        f"{summary[k]} {k.replace('_', ' ')}"
        for k in ("ok", "deviates", "missing", "unexpected", "shape_mismatch", "unchecked")
        if summary[k]
    )
    verdict = "passed" if summary["passed"] else "FAILED"
    print(f"audit {verdict}: {summary['tensors']} tensors ({counts})")


def _local_diagnose(body: dict[str, Any], fmt: str) -> dict[str, Any] | bytes:
    jobs = server_module("jobs.diagnostics")
    job = _local_request("jobs.diagnostics_requests:DiagnosticsRequest", body, jobs.diagnostics_job)
    document: dict[str, Any] = jobs.run_diagnostics(job)
    if fmt == "json":
        return document
    plot: bytes = server_module("encoders.plots").render_diagnostics_plot(document, fmt)
    return plot


def _diagnose_format(args: argparse.Namespace) -> str:
    if args.format is not None:
        return str(args.format)
    if args.output is None:
        return "json"
    suffix = Path(args.output).suffix.lstrip(".").lower()
    if suffix not in DIAGNOSE_FORMATS:
        raise CliError(
            f"cannot tell the format from {args.output!r}: use a .json, .svg or .png name, "
            "or --format",
            EXIT_USAGE,
        )
    return suffix


def cmd_diagnose(args: argparse.Namespace) -> None:
    body = _read_json(args.spec, "spec")
    fmt = _diagnose_format(args)
    if args.local:
        result = _local_diagnose(body, fmt)
    else:
        from .client import Client

        with Client(args.url, timeout=args.timeout, api_key=args.api_key) as client:
            result = (
                client.diagnose(body) if fmt == "json" else client.diagnose_plot(body, format=fmt)
            )
    if args.output is not None:
        data = result if isinstance(result, bytes) else json.dumps(result, indent=2).encode()
        try:
            Path(args.output).write_bytes(data)
        except OSError as exc:
            raise CliError(f"cannot write {args.output!r}: {exc.strerror}", EXIT_USAGE) from None
        return
    if isinstance(result, bytes):  # pragma: no cover - format given without -o
        sys.stdout.buffer.write(result)
        return
    print_diagnostics(result)


def _cell(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else ""
    return f"{value:.{digits}g}"


def print_diagnostics(document: dict[str, Any]) -> None:
    """One table per run: depth, layer, activation, activation std (predicted), gradient std
    (predicted), dead and saturated fractions, symmetry."""
    header = (
        f"{'depth':>5} {'layer':<16} {'act':<10} {'act std':>10} {'predicted':>10} "
        f"{'grad std':>10} {'predicted':>10} {'dead':>6} {'sat':>6} symmetric"
    )
    for run in document["runs"]:
        print(f"== {run['label']}")
        print(header)
        for layer in run["layers"]:
            p = layer.get("predicted") or {}
            print(
                f"{layer['depth']:>5} {layer['name'][:16]:<16} {layer['activation'][:10]:<10} "
                f"{_cell(layer['activation_std']):>10} {_cell(p.get('activation_std')):>10} "
                f"{_cell(layer['gradient_std']):>10} {_cell(p.get('gradient_std')):>10} "
                f"{_cell(layer['dead_fraction'], 2):>6} {_cell(layer['saturated_fraction'], 2):>6} "
                f"{_cell(layer['symmetric'])}"
            )
    check = document.get("coordinate_check")
    if check:
        print(f"== coordinate check ({check['optimizer']}, lr {check['learning_rate']}): mean |a|")
        for row in check["rows"]:
            print(
                f"width {row['width']:>6} step {row['step']:>3} {row['layer']:<16} "
                f"{_cell(row['l1'])}"
            )


COMMANDS = {
    "schemes": cmd_schemes,
    "get": cmd_get,
    "model": cmd_model,
    "audit": cmd_audit,
    "diagnose": cmd_diagnose,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ._core import WeightinitError

    try:
        COMMANDS[args.command](args)
    except CliError as exc:
        print(f"weightinit: error: {_one_line(str(exc))}", file=sys.stderr)
        return exc.code
    except WeightinitError as exc:
        rid = f" [request {exc.request_id}]" if exc.request_id else ""
        fields = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in exc.errors[:3])
        detail = exc.detail if not fields or fields in exc.detail else f"{exc.detail} ({fields})"
        head = f"{exc.status} {exc.title}" if exc.status else exc.title
        print(f"weightinit: error: {_one_line(f'{head}: {detail}')}{rid}", file=sys.stderr)
        return EXIT_REFUSED
    except BrokenPipeError:  # e.g. `weightinit schemes | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"weightinit: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
