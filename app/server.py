"""The HTTP server: uvicorn with h11 and :class:`EdgeH11Protocol`, our protocol class.

``python -m app.server [uvicorn options]`` is ``uvicorn app.main:app --http
app.server:EdgeH11Protocol [uvicorn options]`` (``make run``, the Docker image, compose and
Kubernetes all start it so). The protocol makes the service itself, not only a proxy in front
of it, enforce at the HTTP edge:

* a **total deadline for the request head** (``WEIGHTINIT_HEADER_TIMEOUT_S``, default 10 s)
  from the moment the connection waits for a request: headers dribbled slowly (slowloris)
  get a 408 problem+json and the connection is closed;
* **no request smuggling** (RFC 9112 §6.1): a request with both ``Content-Length`` and
  ``Transfer-Encoding`` gets a 400 problem+json and the connection is closed;
* **problem+json for malformed HTTP** (uvicorn answers it with text/plain): 400, closed;
* an **idle-write timeout** (``WEIGHTINIT_WRITE_TIMEOUT_S``, default 60 s): once a response
  has started no status can change, so a reader that takes nothing for that long (the
  transport's buffer stays full) is cut by closing the connection; a slow reader that keeps
  reading is never cut.

The body read timeout (``WEIGHTINIT_BODY_TIMEOUT_S``) is enforced where the body is read,
in :class:`app.api.middleware.RequestLimits`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import uuid
from http import HTTPStatus
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.api.metrics import record_rejection
from app.api.problems import PROBLEM_JSON, problem_document
from app.jobs.limits import Settings

log = logging.getLogger("weightinit")
PROTOCOL = "app.server:EdgeH11Protocol"


@functools.cache
def edge_settings() -> Settings:
    """The WEIGHTINIT_* settings, read once per process."""
    return Settings.from_env()


class _StrictConnection(h11.Connection):
    """h11 that refuses a request framed twice and remembers why a request was refused."""

    last_error = ""
    target = ""  # the path of the latest request head, for a problem's "instance"

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as exc:
            self.last_error = str(exc)
            raise
        if isinstance(event, h11.Request):
            self.target = event.target.partition(b"?")[0].decode("ascii", "replace")
            names = {name.lower() for name, _ in event.headers}
            if b"content-length" in names and b"transfer-encoding" in names:
                self.last_error = (
                    "a request may not carry both Content-Length and Transfer-Encoding "
                    "(RFC 9112 §6.1)"
                )
                raise h11.RemoteProtocolError(self.last_error, 400)
        return event


class EdgeH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline, an idle-write timeout, CL+TE refused
    and problem+json for every error the server itself answers (module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.strict = _StrictConnection(h11.SERVER, self.conn._max_incomplete_event_size)
        self.conn = self.strict
        settings = edge_settings()
        self.header_timeout = float(settings.header_timeout_s)
        self.write_timeout = float(settings.write_timeout_s)
        self._head_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None

    # ---- the request head's deadline ------------------------------------------------------

    def _arm_head_deadline(self) -> None:
        """Start the clock: the connection now waits for a request head."""
        if self._head_timer is not None:
            self._head_timer.cancel()
        self.strict.target = ""
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_deadline)

    def _head_deadline(self) -> None:
        self._head_timer = None
        waiting = self.conn.their_state is h11.IDLE and self.conn.our_state is h11.IDLE
        if waiting and not self.transport.is_closing():
            self._refuse(
                408,
                f"The request head was not complete within {self.header_timeout:g} s "
                "(WEIGHTINIT_HEADER_TIMEOUT_S).",
            )

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._write_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    # ---- responses the server writes itself ----------------------------------------------

    def _refuse(self, status: int, detail: str) -> None:
        """Write a problem+json response and close, whatever state h11 is in."""
        record_rejection("timeout" if status == 408 else "malformed")
        request_id = uuid.uuid4().hex
        body = problem_document(status, detail, self.strict.target, request_id)
        headers = [
            *self.server_state.default_headers,
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
            (b"connection", b"close"),
        ]
        head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()
        head += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        self.transport.write(head + b"\r\n" + body)
        self.transport.close()
        log.warning("refused a request with %d: %s", status, detail)

    def send_400_response(self, msg: str) -> None:
        reason = self.strict.last_error or msg
        self._refuse(400, f"The request is not valid HTTP/1.1: {reason}.")

    # ---- the idle-write timeout -----------------------------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.write_timeout, self._write_stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _write_stalled(self) -> None:
        self._write_timer = None
        log.warning(
            "closed a connection whose reader took nothing for %g s (WEIGHTINIT_WRITE_TIMEOUT_S)",
            self.write_timeout,
        )
        self.transport.abort()


def main(argv: list[str] | None = None) -> None:
    """``uvicorn app.main:app --http app.server:EdgeH11Protocol --no-access-log`` plus
    ``argv``: the service writes its own JSON access line per request (app/api/observe.py);
    ``--access-log`` in ``argv`` brings uvicorn's text line back."""
    given = sys.argv[1:] if argv is None else argv
    args = ["app.main:app", "--http", PROTOCOL, "--no-access-log", *given]
    uvicorn.main.main(args=args, prog_name="python -m app.server")


if __name__ == "__main__":
    main()
