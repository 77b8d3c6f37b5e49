"""A webhook receiver on loopback for the notification tests, written apart from seahealth's
code: it checks Standard Webhooks signatures its own way (a bad one gets 401), keeps every
body it accepted per webhook-id in the order they came, and misbehaves on demand: it
refuses connections (a closed port), answers 503, or reads the request and never answers.

It can also kill a process group after reading a delivery and before answering it: the
sender dies having sent a message it never marks.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import enum
import hashlib
import hmac
import json
import os
import signal
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

# Standard Webhooks' tolerance: a timestamp further than this from now is refused (a replay).
TOLERANCE = 300  # seconds
SECRET_PREFIX = "whsec_"


class Behaviour(enum.Enum):
    ACCEPT = "accept"  # a good signature: 204; a bad one: 401
    REFUSE = "refuse"  # the port is closed: connection refused
    FAIL = "fail"  # 503, whatever was sent
    HANG = "hang"  # reads the request, never answers


@dataclass(frozen=True)
class Request:
    """One request that reached the receiver, and what it was met with."""

    id: str  # webhook-id
    headers: dict[str, str]  # names in lower case
    body: bytes
    met_with: str  # "accepted", "rejected" (bad signature), "503", "hung", "dropped"

    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)

    def text(self) -> str:
        """The whole request as text: where a secret that leaked would be."""
        headers = "".join(f"{name}: {value}\n" for name, value in self.headers.items())
        return headers + "\n" + self.body.decode(errors="replace")


def signing_key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    return secret.encode()


def signature_holds(secret: str, headers: dict[str, str], body: bytes, now: float) -> bool:
    """Whether one of the `v1,` signatures is the HMAC-SHA256 of "{id}.{timestamp}.{body}"
    under the secret's key, and the timestamp is within TOLERANCE of `now`."""
    webhook_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    if not webhook_id or not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE:
        return False
    signed = webhook_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = hmac.digest(signing_key(secret), signed, hashlib.sha256)
    for candidate in headers.get("webhook-signature", "").split():
        version, _, value = candidate.partition(",")
        try:
            given = base64.b64decode(value, validate=True)
        except binascii.Error:
            continue
        if version == "v1" and hmac.compare_digest(given, expected):
            return True
    return False


class WebhookReceiver:
    """Starts refusing connections; `accept()`, `fail()`, `hang()` and `refuse()` switch it."""

    def __init__(self, secret: str, path: str = "/hook") -> None:
        self.secret = secret
        self.path = path
        self.requests: list[Request] = []  # every request read, in arrival order
        self.behaviour = Behaviour.REFUSE
        self.delay = 0.0  # before answering an accepted delivery
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._kill: int | None = None  # a process group to kill at the next delivery
        self._listener: socket.socket | None = None
        self._holder = self._bound(0)  # holds the port while it is closed
        self.port = self._holder.getsockname()[1]

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    # --- what it does ---------------------------------------------------------------------

    def accept(self, delay: float = 0.0) -> None:
        """Accept what is well signed, answering `delay` seconds after reading it."""
        self.delay = delay
        self._open()
        self.behaviour = Behaviour.ACCEPT

    def fail(self) -> None:
        self._open()
        self.behaviour = Behaviour.FAIL

    def hang(self) -> None:
        self._open()
        self.behaviour = Behaviour.HANG

    def refuse(self) -> None:
        self.behaviour = Behaviour.REFUSE
        with self._lock:
            if self._listener is not None:
                # shutdown stops the listening at once, even while the accepting thread waits
                # on the socket (close alone would wait for that thread to let go of it).
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
                # Bound again at once, not listening: connections are refused, and no other
                # socket takes the port meanwhile.
                self._holder = self._bound(self.port)

    def kill_before_answering(self, process_group: int) -> None:
        """At the next delivery accepted: SIGKILL the process group, then answer."""
        self._kill = process_group

    def stop(self) -> None:
        self._stopped.set()
        self.refuse()
        self._holder.close()

    # --- what it received -----------------------------------------------------------------

    def met_with(self, what: str) -> list[Request]:
        return [request for request in self.requests if request.met_with == what]

    def deliveries(self) -> dict[str, list[bytes]]:
        """The bodies accepted, per webhook-id."""
        found: dict[str, list[bytes]] = defaultdict(list)
        for request in self.met_with("accepted"):
            found[request.id].append(request.body)
        return dict(found)

    def told(self) -> list[tuple[str, str]]:
        """(dependency, status) of each event of each delivery accepted, in arrival order."""
        return [
            (event["dependency"], event["status"])
            for request in self.met_with("accepted")
            for event in request.payload()["events"]
        ]

    def summary(self) -> str:
        return ", ".join(f"{r.id} {r.met_with}" for r in self.requests) or "nothing received"

    # --- the sockets ----------------------------------------------------------------------

    @staticmethod
    def _bound(port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        return sock

    def _open(self) -> None:
        with self._lock:
            if self._listener is not None:
                return
            self._listener, self._holder = self._holder, None  # type: ignore[assignment]
            self._listener.listen(64)
            self._listener.settimeout(0.1)
            threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                conn, address = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed: refusing now
            threading.Thread(target=self._serve, args=(conn, address), daemon=True).start()

    def _serve(self, conn: socket.socket, address: Any) -> None:
        conn.settimeout(None)
        try:
            _Handler(conn, address, self)
        except OSError:
            pass  # the client went away mid-request
        finally:
            conn.close()

    def _answer(self, handler: _Handler) -> None:
        headers = {name.lower(): value for name, value in handler.headers.items()}
        body = handler.rfile.read(int(headers.get("content-length") or 0))
        webhook_id = headers.get("webhook-id", "")
        behaviour = self.behaviour
        if behaviour is Behaviour.REFUSE:
            # Accepted just before the port closed: dropped unanswered, as a server going away.
            self.requests.append(Request(webhook_id, headers, body, "dropped"))
            handler.close_connection = True
            return
        if behaviour is Behaviour.HANG:
            self.requests.append(Request(webhook_id, headers, body, "hung"))
            self._hold(handler.connection)
            handler.close_connection = True
            return
        if behaviour is Behaviour.FAIL:
            self.requests.append(Request(webhook_id, headers, body, "503"))
            handler.reply(503, b"busy")
            return
        if handler.path != self.path or not signature_holds(
            self.secret, headers, body, time.time()
        ):
            self.requests.append(Request(webhook_id, headers, body, "rejected"))
            handler.reply(401, b"bad signature")
            return
        self.requests.append(Request(webhook_id, headers, body, "accepted"))
        kill, self._kill = self._kill, None
        if kill is not None:
            os.killpg(kill, signal.SIGKILL)
        if self.delay:
            self._stopped.wait(self.delay)
        handler.reply(204, b"")

    def _hold(self, conn: socket.socket) -> None:
        """Until the client gives up (or the receiver stops), without a byte sent back."""
        conn.settimeout(0.1)
        while not self._stopped.is_set():
            try:
                if not conn.recv(4096):
                    return
            except TimeoutError:
                continue
            except OSError:
                return


class _Handler(BaseHTTPRequestHandler):
    server: WebhookReceiver  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.server._answer(self)

    do_GET = do_PUT = do_POST

    def reply(self, status: int, body: bytes) -> None:
        # One request per connection: a switch of behaviour reaches the very next request.
        self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the sender went away (killed, or timed out)

    def log_message(self, format: str, *args: object) -> None:
        pass
