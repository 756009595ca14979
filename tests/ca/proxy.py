"""A TLS forwarding proxy in front of the real django-ca, to make it misbehave the
ways a CA does in production: answer late (after the client gave up, though
django-ca still signs), answer 500, or hand back a genuine django-ca certificate
that belongs to another key. Everything else is forwarded unchanged."""
from __future__ import annotations

import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


class MisbehavingProxy:
    def __init__(self, peer, certfile, keyfile):
        self.peer = peer
        self.mode = "pass"          # pass | slow | error | swap
        self.delay = 2.0
        self.swap_pem: str | None = None
        self.posts = 0              # sign requests seen
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if method == "POST" and self.path.endswith("/sign/"):
                    proxy.posts += 1
                if proxy.mode == "error":
                    return self._send(500, b'{"detail": "Internal Server Error"}')
                if proxy.mode == "slow" and method == "POST":
                    time.sleep(proxy.delay)  # the client times out; the CA still signs below
                upstream = requests.request(
                    method, f"https://127.0.0.1:{proxy.peer.port}{self.path}", data=body,
                    headers={k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")},
                    verify=str(proxy.peer.cafile), timeout=30)
                content = upstream.content
                if proxy.mode == "swap" and "/certs/" in self.path and method == "GET" and upstream.ok:
                    data = upstream.json()
                    if isinstance(data, dict):
                        data["certificate"]["pem"] = proxy.swap_pem
                        content = json.dumps(data).encode()
                try:
                    self._send(upstream.status_code, content, upstream.headers.get("Content-Type"))
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
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

    def ra_ca(self, timeout: float = 10, retries: int = 0, grace: float = 30) -> str:
        p = self.peer
        return (f"django-ca+https://{p.username}:{p.password}@127.0.0.1:{self.port}/django_ca/api?ca={p.issuing}"
                f"&cafile={p.cafile}&timeout={timeout}&retries={retries}&grace={grace}")

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
