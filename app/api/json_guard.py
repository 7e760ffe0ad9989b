"""The rules every JSON request body obeys before a route sees it.

* **UTF-8 only** (RFC 8259 §8.1): a body in UTF-16 or UTF-32, one starting with a byte order
  mark, or a ``charset`` other than UTF-8 is a 415; bytes that are not UTF-8 are a 400.
* **Bounded shape**: at most :data:`MAX_JSON_DEPTH` nested arrays/objects and
  :data:`MAX_JSON_ITEMS` items in one array or object, else a 400 (quickly: the parser's own
  recursion limit is caught, never a RecursionError).
* **Strings are text**: every string, object keys included, is Unicode text without lone
  surrogates (``"\\ud800"``) or control characters (U+0000-U+001F, U+007F-U+009F), else a 422
  naming the field.

Bodies that are not JSON at all are left to the routes (415 for another media type, 400 for
invalid JSON).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .middleware import replaying
from .problems import problem_response

MAX_JSON_DEPTH = 32
MAX_JSON_ITEMS = 65_536
_NOT_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BOMS = (b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe", b"\x00\x00\xfe\xff")
_RFC = "RFC 8259 §8.1"


class JsonProblem(Exception):
    """A body that breaks one of the rules: its status, detail and field (if any)."""

    def __init__(self, status: int, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field


def _is_json(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return not media or media == "application/json" or media.endswith("+json")


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


def _decode(body: bytes, content_type: str) -> str:
    charset = _charset(content_type)
    if charset not in (None, "utf-8", "utf8"):
        raise JsonProblem(415, f"JSON bodies are UTF-8 only ({_RFC}); got charset={charset}.")
    if body.startswith(_BOMS) or b"\x00" in body[:4]:
        raise JsonProblem(
            415,
            f"JSON bodies are UTF-8 without a byte order mark ({_RFC}); this body starts "
            "with a byte order mark or is UTF-16/UTF-32.",
        )
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonProblem(
            400, f"The body is not valid UTF-8 ({_RFC}): bad bytes at offset {exc.start}."
        ) from None


def _text_problem(value: str) -> str | None:
    bad = _NOT_TEXT.search(value)
    if bad is None:
        return None
    code = ord(bad.group())
    what = "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
    return f"Must be text: it holds {what} (U+{code:04X}) at position {bad.start()}."


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _container(value: dict[str, Any] | list[Any], path: str, depth: int) -> None:
    where = path or "body"
    if depth > MAX_JSON_DEPTH:
        raise JsonProblem(
            400, f"The body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels.", where
        )
    if len(value) > MAX_JSON_ITEMS:
        raise JsonProblem(
            400, f"{where} has {len(value)} items; at most {MAX_JSON_ITEMS} are accepted.", where
        )


def check_document(document: Any) -> None:
    """Depth, item counts and text of every string of a parsed body (iteratively)."""
    stack: list[tuple[Any, str, int]] = [(document, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                raise JsonProblem(422, problem, path or "body")
        elif isinstance(value, dict):
            _container(value, path, depth)
            for key, item in value.items():
                if _text_problem(key):
                    raise JsonProblem(422, f"An object key: {_text_problem(key)}", path or "body")
                stack.append((item, _child(path, key), depth + 1))
        elif isinstance(value, list):
            _container(value, path, depth)
            stack.extend(
                (item, _child(path, i), depth + 1)
                for i, item in enumerate(value)
                if isinstance(item, str | dict | list)
            )


def check_body(body: bytes, content_type: str) -> None:
    """Raise :class:`JsonProblem` if a JSON ``body`` breaks a rule (invalid JSON passes: the
    route reports it)."""
    text = _decode(body, content_type)
    try:
        # orjson refuses lone surrogates and nesting past 1024 itself: what it parses needs
        # only the depth, item and control-character checks; the rest goes the slow way.
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        document = _slow_parse(text)
    if document is not _INVALID:
        check_document(document)


_INVALID = object()


def _slow_parse(text: str) -> Any:
    """``json.loads`` (keeps lone surrogates, for a 422 naming them), or _INVALID."""
    try:
        return json.loads(text)
    except RecursionError:
        raise JsonProblem(
            400, f"The body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels."
        ) from None
    except ValueError:
        return _INVALID


class JsonGuard:
    """ASGI middleware: apply :func:`check_body` to every JSON request body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if not _is_json(content_type):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message: Message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, receive, send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            if body.strip():
                check_body(body, content_type)
        except JsonProblem as exc:
            errors = [{"field": exc.field, "message": exc.detail}] if exc.field else []
            detail = f"{exc.field}: {exc.detail}" if exc.field else exc.detail
            response = problem_response(Request(scope), exc.status, detail, errors=errors)
            await response(scope, receive, send)
            return
        await self.app(scope, replaying(body, receive), send)
