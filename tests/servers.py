"""Real peers on loopback for the tests: an HTTP(S) server whose answers the test sets, a
server that accepts connections and never answers, and one that answers a byte at a time."""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        """The whole request as text, as an echoing peer would quote it back."""
        headers = "".join(f"{name}: {value}\n" for name, value in self.headers.items())
        return f"{self.method} {self.path}\n{headers}\n{self.body.decode(errors='replace')}"


@dataclass
class Route:
    status: int = 200
    body: bytes = b'{"status": "ok"}'
    delay: float = 0.0  # seconds before answering
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    # Computes the body from the request's body, when the answer depends on the question.
    reply: Callable[[bytes], bytes] | None = None
    # Computes the body from the whole request (an echoing peer, say).
    reply_to: Callable[[Request], bytes] | None = None
    # The reason phrase, from the whole request; the standard one when None.
    reason: Callable[[Request], str] | None = None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        self.server.arrivals.append(datetime.now(UTC))
        self.server.requests.append((self.command, self.path, dict(self.headers)))
        routes = self.server.routes
        # "*" answers any path no route names.
        route = routes.get(self.path.split("?")[0]) or routes.get("*", Route(404, b"not found"))
        request = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        whole = Request(self.command, self.path, dict(self.headers), request)
        self.server.received.append(whole)
        if route.delay and self.server.released.wait(route.delay):
            return  # the server is stopping: drop the request
        body = route.reply(request) if route.reply else route.body
        if route.reply_to:
            body = route.reply_to(whole)
        reason = " ".join(route.reason(whole).split()) if route.reason else None
        self.send_response(route.status, reason)
        for name, value in route.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog is 5: when more probes connect at once (several probers,
    # a busy test process slow to accept), the kernel drops the SYNs past it and a client
    # sees a connect timeout (its SYN is sent again only after a second).
    request_queue_size = 128

    def __init__(self, address, owner, released):
        self.routes = owner.routes
        self.requests = owner.requests
        self.received = owner.received
        self.arrivals = owner.arrivals
        self.released = released
        self.ssl_context = owner.ssl_context
        super().__init__(address, _Handler)

    def get_request(self):
        sock, address = super().get_request()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        return sock, address

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hangs up (a probe's deadline) is not a test failure


class LocalHTTPServer:
    """An HTTP server on 127.0.0.1 that can be stopped and started again on the same port."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {"/health": Route()}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.received: list[Request] = []  # the same requests, each with its body
        self.arrivals: list[datetime] = []  # when each request came
        self.ssl_context = ssl_context
        self.port = 0
        self._server: _Server | None = None
        self._released = threading.Event()

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_context else "http"

    def url(self, path: str = "/health") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def start(self) -> LocalHTTPServer:
        self._released = threading.Event()
        server = _Server(("127.0.0.1", self.port), self, self._released)
        self.port = server.server_address[1]
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._released.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class LoopbackServer:
    """A TCP server on 127.0.0.1 that serves each connection with `handle`, in a thread of
    its own (or, with `threaded` false, one after the other). Subclasses set what `handle`
    needs before calling this __init__, which starts accepting."""

    threaded = True

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self.port = self._socket.getsockname()[1]
        self.url_base = f"http://127.0.0.1:{self.port}"
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.threaded:
                threading.Thread(target=self.handle, args=(conn,), daemon=True).start()
            else:
                self.handle(conn)

    def stop(self) -> None:
        self._stopped.set()
        self._socket.close()


class TLSProxy(LoopbackServer):
    """Terminates TLS and forwards the bytes to a plain TCP port on loopback: a wss:// (or
    https://) front for a peer that speaks only ws:// (ganache), as a provider's proxy is."""

    def __init__(self, target_port: int, ssl_context: ssl.SSLContext) -> None:
        self.target_port = target_port
        self.ssl_context = ssl_context
        super().__init__()

    def url(self, scheme: str = "wss") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    def handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            client = self.ssl_context.wrap_socket(conn, server_side=True)
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
        except OSError:
            conn.close()
            return
        # Connected: the pumps wait as long as the two ends keep the connection open.
        client.settimeout(None)
        upstream.settimeout(None)
        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)


def pump(source: socket.socket, sink: socket.socket) -> None:
    """Copies `source` to `sink` until either closes, then closes both: shut down first, which
    (unlike close) wakes the other direction's thread blocked reading, and sends the FIN."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()


class HangingServer(LoopbackServer):
    """Accepts every connection and never sends a byte."""

    threaded = False

    def __init__(self) -> None:
        self._held: list[socket.socket] = []
        super().__init__()

    def url(self, path: str = "/health", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def handle(self, conn: socket.socket) -> None:
        self._held.append(conn)

    def stop(self) -> None:
        super().stop()
        for conn in self._held:
            conn.close()


class EndlessServer(LoopbackServer):
    """Answers every request with `status` and a body that never ends: a client that reads
    it all never returns."""

    def __init__(self, status: int = 500) -> None:
        self.status = status
        super().__init__()

    def url(self, path: str = "/") -> str:
        return f"{self.url_base}{path}"

    def handle(self, conn: socket.socket) -> None:
        head = (
            f"HTTP/1.1 {self.status} Endless\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {10**15}\r\n\r\n"
        )
        chunk = b"endless " * 8192
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)  # the request's start: enough to answer it
                conn.sendall(head.encode())
                while not self._stopped.is_set():
                    conn.sendall(chunk)
            except OSError:
                pass  # the client hung up: what it should do


# What a peer that drips sends first, by the protocol its client expects.
HTTP_DRIP = b"HTTP/1.1 200 OK\r\nX-Drip: "  # headers that never end
SMTP_DRIP = b"220 "  # a banner that never ends
# A TLS handshake record announcing 16 KiB: the client waits for all of it before it reads a
# byte of the handshake, so dripping its body drips the handshake.
TLS_DRIP = b"\x16\x03\x03\x40\x00"


@dataclass
class Dripped:
    """One connection to a DrippingServer, in time.monotonic() seconds."""

    opened: float
    closed: float | None = None  # when the client closed it


class DrippingServer:
    """Accepts every connection and sends `opening`, then filler, one byte every `every`
    seconds, forever: each byte resets a client's read timeout, so only a total deadline
    ends the exchange. Notes when the client closes each connection.

    One thread serves every connection, so that hundreds of them add no threads to the
    process under test. `prelude(conn)`, when given, runs first (in a thread of its own, on
    a blocking socket): the part of a protocol to play out before the dripping starts.
    """

    def __init__(
        self,
        opening: bytes = HTTP_DRIP,
        every: float = 0.1,
        prelude: Callable[[socket.socket], None] | None = None,
        filler: bytes = b"a",
    ) -> None:
        self.opening = opening
        self.every = every
        self.prelude = prelude
        self.filler = filler
        self.connections: list[Dripped] = []
        self._socket = socket.create_server(("127.0.0.1", 0), backlog=512)
        self._socket.setblocking(False)
        self.port = self._socket.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._socket, selectors.EVENT_READ)
        self._sent: dict[socket.socket, int] = {}  # bytes of the drip sent so far
        self._ready: list[tuple[socket.socket, Dripped]] = []  # preludes played out
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dripping-server", daemon=True)
        self._thread.start()

    def url(self, path: str = "/", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def open_connections(self) -> list[Dripped]:
        return [c for c in self.connections if c.closed is None]

    def wait_until_closed(self, seconds: float) -> list[Dripped]:
        """Wait up to `seconds` for the client to close every connection; the ones it left."""
        deadline = time.monotonic() + seconds
        while self.open_connections() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.open_connections()

    def _serve(self) -> None:
        next_drip = time.monotonic()
        while not self._stopped.is_set():
            for key, _ in self._selector.select(max(0.0, next_drip - time.monotonic())):
                if key.fileobj is self._socket:
                    self._accept()
                else:
                    self._read(key.fileobj, key.data)
            with self._lock:
                ready, self._ready = self._ready, []
            for conn, dripped in ready:
                self._start_dripping(conn, dripped)
            if time.monotonic() >= next_drip:
                self._drip()
                next_drip = time.monotonic() + self.every

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except (BlockingIOError, OSError):
                return
            dripped = Dripped(opened=time.monotonic())
            self.connections.append(dripped)
            if self.prelude is None:
                self._start_dripping(conn, dripped)
            else:
                threading.Thread(
                    target=self._play_prelude, args=(self.prelude, conn, dripped), daemon=True
                ).start()

    def _play_prelude(
        self, prelude: Callable[[socket.socket], None], conn: socket.socket, dripped: Dripped
    ) -> None:
        conn.setblocking(True)
        conn.settimeout(10)
        try:
            prelude(conn)
        except OSError:
            self._close(conn, dripped)
            return
        with self._lock:
            self._ready.append((conn, dripped))

    def _start_dripping(self, conn: socket.socket, dripped: Dripped) -> None:
        conn.setblocking(False)
        self._sent[conn] = 0
        self._selector.register(conn, selectors.EVENT_READ, dripped)

    def _read(self, conn: socket.socket, dripped: Dripped) -> None:
        try:
            if conn.recv(65536):
                return  # what the client sends is not listened to
        except BlockingIOError:
            return
        except OSError:
            pass
        self._close(conn, dripped)

    def _drip(self) -> None:
        for key in list(self._selector.get_map().values()):
            conn = key.fileobj
            if conn is self._socket:
                continue
            sent = self._sent[conn]
            byte = self.opening[sent : sent + 1] or self.filler
            try:
                conn.send(byte)
            except BlockingIOError:
                continue  # the client does not read: it is still there
            except OSError:
                self._close(conn, key.data)
                continue
            self._sent[conn] = sent + 1

    def _close(self, conn: socket.socket, dripped: Dripped) -> None:
        if dripped.closed is None:
            dripped.closed = time.monotonic()
        if conn in self._sent:
            self._selector.unregister(conn)
            del self._sent[conn]
        conn.close()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()
        self._selector.close()


def unused_port() -> int:
    """A loopback port where nothing listens (bound, then released)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


class EchoingSMTPServer(LoopbackServer):
    """An SMTP server on implicit TLS that offers AUTH PLAIN and LOGIN and refuses every
    login quoting back, in its 535 reply, the lines it was sent."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self.ssl_context = ssl_context
        self.received: list[str] = []
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        try:
            with self.ssl_context.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(5)
                self._talk(tls.makefile("rwb"))
        except OSError:
            pass

    def _talk(self, lines) -> None:
        def send(reply: str) -> None:
            lines.write(reply.encode() + b"\r\n")
            lines.flush()

        send("220 echo ESMTP")
        quoted: list[str] = []
        for raw in lines:
            line = raw.decode(errors="replace").strip()
            self.received.append(line)
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                send("250-echo\r\n250 AUTH PLAIN LOGIN")
            elif verb == "AUTH" and line.upper().startswith("AUTH LOGIN"):
                quoted.append(line)
                send("334 VXNlcm5hbWU6")
            elif verb == "QUIT":
                send("221 bye")
                return
            elif verb == "AUTH" or quoted:
                quoted.append(line)
                if verb != "AUTH" and len(quoted) < 3:
                    send("334 UGFzc3dvcmQ6")
                    continue
                send(f"535 5.7.8 refused: {' / '.join(quoted)}")
                quoted = []
            else:
                send("250 ok")
