"""A real HTTP server on 127.0.0.1 with misbehaviours on demand, for download tests."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes
    status: int = 200
    honour_range: bool = True
    cut_after: int | None = None  # close the connection after this many body bytes...
    cut_times: int = 0  # ...on this many requests
    stall_after: int | None = None  # stop sending (but keep the socket open) after N bytes...
    stall_times: int = 0
    stall_seconds: float = 5.0
    throttle: float = 0.0  # seconds per 64 KiB
    endless: bool = False  # no Content-Length; repeat the body until the client hangs up...
    endless_limit: int = 256 << 20  # ...or this many bytes went out (the loop stays bounded)
    drip: float | None = None  # send one byte, then wait this many seconds (a crawling server)
    redirect: str | None = None  # answer 302 with this Location (a path here or a full URL)
    content_length: int | None = None  # declare this Content-Length whatever the body (a liar)
    requests: list[dict] = field(default_factory=list)


class Server:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                route = routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                route.requests.append({"range": self.headers.get("Range")})
                if route.redirect is not None:
                    self.send_response(302)
                    self.send_header("Location", route.redirect)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if route.endless:
                    self._endless(route)
                    return
                if route.status != 200:
                    self.send_response(route.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body, start = route.body, 0
                rng = self.headers.get("Range")
                if rng and route.honour_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                payload = body[start:]
                declared = len(payload) if route.content_length is None else route.content_length
                self.send_header("Content-Length", str(declared))
                self.send_header("Connection", "close")
                self.end_headers()
                limit = None
                if route.cut_times > 0 and route.cut_after is not None:
                    route.cut_times -= 1
                    limit = route.cut_after
                stall = None
                if route.stall_times > 0 and route.stall_after is not None:
                    route.stall_times -= 1
                    stall = route.stall_after
                sent = 0
                try:
                    while sent < len(payload):
                        if limit is not None and sent >= limit:
                            break  # the connection is cut: a short body
                        if route.drip is not None:
                            self.wfile.write(payload[sent:sent + 1])
                            self.wfile.flush()
                            sent += 1
                            time.sleep(route.drip)
                            continue
                        if stall is not None and sent >= stall:
                            time.sleep(route.stall_seconds)  # silence, socket still open
                            break
                        stop = min(x for x in (limit, stall, sent + (1 << 16)) if x is not None)
                        self.wfile.write(payload[sent:stop])
                        self.wfile.flush()
                        sent = min(stop, len(payload))
                        if route.throttle:
                            time.sleep(route.throttle)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def _endless(self, route: Route) -> None:
                self.send_response(200)
                self.send_header("Connection", "close")  # body ends when the socket closes
                self.end_headers()
                sent = 0
                try:
                    while sent < route.endless_limit:
                        self.wfile.write(route.body)
                        sent += len(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.base + path

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
