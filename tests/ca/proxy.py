"""A TLS forwarding proxy in front of the real django-ca, to make it misbehave the
ways a CA does in production: answer late (after the client gave up, though
django-ca still signs), answer 500, or hand back a genuine django-ca certificate
that belongs to another key. Everything else is forwarded unchanged.

Lateness is driven by events, not by sleeps, so a test on a loaded machine sees
the same order of things as on an idle one. ``plans`` names what happens to each
sign request in turn:

- ``lost-then-late``: the connection drops before the request reaches
  django-ca (the client sees a network failure at once); the request is
  delivered when the test opens its gate, and django-ca signs it then;
- ``hold-answer``: django-ca signs at once; its answer is held until the gate
  opens (the client times out; the certificate already exists);
- ``answer-lost``: django-ca signs at once; the connection drops instead of
  the answer (the client sees a network failure; the certificate exists).

``signed[i]`` is set once django-ca has answered the i-th sign request."""
from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


# Only so that a test that fails before opening a gate leaves no thread behind;
# every test opens its gates itself.
HOLD_LIMIT = 300


class MisbehavingProxy:
    def __init__(self, peer, certfile, keyfile):
        self.peer = peer
        self.mode = "pass"          # pass | slow | error | swap
        self.delay = 2.0
        self.swap_pem: str | None = None
        self.posts = 0              # sign requests seen
        self.plans: list[str] = []  # per sign request, in order (see above)
        self.gates: list[threading.Event] = []
        self.signed: list[threading.Event] = []
        self._count = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                plan, gate, signed = None, None, None
                if method == "POST" and self.path.endswith("/sign/"):
                    with proxy._count:
                        proxy.posts += 1
                        index = proxy.posts - 1
                        gate, signed = threading.Event(), threading.Event()
                        proxy.gates.append(gate)
                        proxy.signed.append(signed)
                        plan = proxy.plans[index] if index < len(proxy.plans) else None
                if plan == "lost-then-late":
                    self._drop()
                    gate.wait(HOLD_LIMIT)
                if proxy.mode == "error":
                    return self._send(500, b'{"detail": "Internal Server Error"}')
                if proxy.mode == "slow" and method == "POST":
                    time.sleep(proxy.delay)  # the client times out; the CA still signs below
                upstream = requests.request(
                    method, f"https://127.0.0.1:{proxy.peer.port}{self.path}", data=body,
                    headers={k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")},
                    verify=str(proxy.peer.cafile), timeout=120)
                content = upstream.content
                if signed is not None:
                    signed.set()
                if plan == "hold-answer":
                    gate.wait(HOLD_LIMIT)
                if plan in ("lost-then-late", "answer-lost"):
                    return self._drop()
                if proxy.mode == "swap" and "/certs/" in self.path and method == "GET" and upstream.ok:
                    data = upstream.json()
                    if isinstance(data, dict):
                        data["certificate"]["pem"] = proxy.swap_pem
                        content = json.dumps(data).encode()
                try:
                    self._send(upstream.status_code, content, upstream.headers.get("Content-Type"))
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass

            def _drop(self):
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            def _send(self, status, content, ctype="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", ctype or "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def do_GET(self):
                self._forward("GET")

            def do_POST(self):
                self._forward("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, keyfile)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def ra_ca(self, timeout: float = 60, retries: int = 0, grace: float = 30) -> str:
        p = self.peer
        return (f"django-ca+https://{p.username}:{p.password}@127.0.0.1:{self.port}/django_ca/api?ca={p.issuing}"
                f"&cafile={p.cafile}&timeout={timeout}&retries={retries}&grace={grace}")

    def reset(self):
        self.release()
        self.mode, self.posts, self.swap_pem, self.plans = "pass", 0, None, []
        self.gates, self.signed = [], []

    def release(self):
        for gate in self.gates:
            gate.set()

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()
