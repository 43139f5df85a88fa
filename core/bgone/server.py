"""`bgone serve`: an HTTP API that rembg integrations can call by changing only the address
(`POST /api/remove` with a multipart `file`, `GET /api/remove?url=`, rembg's parameter names),
plus `/api/models`, `/health`, `/openapi.json` and a docs page at `/api`.

The work is the CLI's own: pipeline.remove on the upload saved under its own name, encoded by
writer.encode, so a response is byte for byte the file `bgone remove` writes with the same options,
and a bad upload gets the CLI's message. Sessions stay warm across requests (inference's cache);
at most ``workers`` images are processed at once and ``queue`` more may wait, anything beyond
gets 503 with Retry-After. A slot is held until the work itself ends: a client that goes away,
or a request over its time limit, cancels its work at the next stage boundary.

Starlette, uvicorn and python-multipart are the optional extra `bgone[server]`, imported only
here and only when serving.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .errors import BgoneError, Cancelled, ModelNotInstalled

log = logging.getLogger(__name__)

EXTRA_HINT = "Install it with: pip install 'bgone[server]'"


@dataclass(frozen=True)
class Limits:
    workers: int = 1  # images processed at once (threads sharing the warm sessions)
    queue: int = 8  # requests admitted to wait for a worker; more get 503
    max_body: int = 50_000_000  # bytes of request body (rembg caps URL fetches near this too)
    timeout: float = 120.0  # seconds a request may take, waiting included


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "boolean", "string" or "integer" (OpenAPI types)
    doc: str
    used: bool = True  # False: rembg's, accepted and ignored (no bgone equivalent)


# The request parameters, once: parsing below and the OpenAPI document both read this table.
PARAMS = (
    Param("model", "string", "Model name (see /api/models); default: the server's model."),
    Param("a", "boolean", "rembg's alpha matting: true means bgone's best refinement."),
    Param("om", "boolean", "Only the mask: the 8-bit mask as a greyscale PNG."),
    Param("bgc", "string", "Background colour r,g,b[,a] (or #rrggbb): the subject on that colour."),
    Param("dc", "boolean", "Decontaminate edge colours (bgone's default: true)."),
    Param("refine", "string", "bgone's edge refinement: none, fast or best (overrides a)."),
    Param("af", "integer", "rembg's alpha matting foreground threshold (ignored).", False),
    Param("ab", "integer", "rembg's alpha matting background threshold (ignored).", False),
    Param("ae", "integer", "rembg's alpha matting erode size (ignored).", False),
    Param("ppm", "boolean", "rembg's mask post-processing (ignored).", False),
    Param("vm", "boolean", "rembg's ViTMatte refinement (ignored).", False),
    Param("extras", "string", "rembg's extra JSON parameters (ignored).", False),
)
_TRUE = {"1", "true", "yes", "on", "t", "y"}
_FALSE = {"0", "false", "no", "off", "f", "n", ""}

# kind -> HTTP status; every other kind is a server-side failure (500).
STATUS = {
    "bad_image": 400, "bad_argument": 400, "usage": 400, "unknown_model": 400,
    "model_missing": 400, "url_refused": 403, "too_large": 413, "busy": 503,
    "url_failed": 502, "cancelled": 504, "url_off": 403, "slow_upload": 408,
}


def require() -> None:
    """The server extra is installed, or a BgoneError that says how to get it."""
    missing = []
    for module in ("starlette", "uvicorn", "multipart"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module if module != "multipart" else "python-multipart")
    if missing:
        raise BgoneError(f"`bgone serve` needs {', '.join(missing)}, which is not installed.",
                         EXTRA_HINT, kind="missing_extra")


def _flag(name: str, text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise BgoneError(f"{name}={text[:50]!r} is not true or false.", "Use true or false.",
                     kind="bad_argument")


def options(get: Callable[[str], str | None], default_model: str) -> dict[str, Any]:
    """Request parameters -> pipeline.remove's keyword arguments (the CLI's meaning for each)."""
    from .cli import _parse_color
    from .pipeline import DEFAULT_REFINE, check_refine

    def flag(name: str, default: bool) -> bool:
        text = get(name)
        return default if text is None else _flag(name, text)

    refine = get("refine")
    if refine is None:
        refine = "best" if flag("a", False) else DEFAULT_REFINE
    return {
        "model": get("model") or default_model,
        "refine": check_refine(refine),
        "mask": flag("om", False),
        "bg_color": _parse_color(get("bgc") or None),
        "decontaminate": flag("dc", True),
    }


def upload_name(name: str | None) -> str:
    """A plain file name for the upload (messages then read as the CLI's for that file)."""
    base = re.sub(r"[^\w.\- ]", "_", os.path.basename((name or "").replace("\\", "/")))[:100]
    return base if base.strip(". ") else "upload"


@dataclass
class Slots:
    """Admission control: ``cap`` requests in flight at most (working or waiting)."""

    cap: int
    workers: int
    active: int = 0
    cancelled: int = 0
    served: int = 0
    seconds: float = 2.0  # moving average of one image's work, for Retry-After
    lock: threading.Lock = field(default_factory=threading.Lock)

    def try_enter(self) -> bool:
        with self.lock:
            if self.active >= self.cap:
                return False
            self.active += 1
            return True

    def leave(self, seconds: float | None = None, cancelled: bool = False) -> None:
        with self.lock:
            self.active -= 1
            self.cancelled += cancelled
            if seconds is not None:
                self.served += 1
                self.seconds = 0.8 * self.seconds + 0.2 * seconds

    def retry_after(self) -> int:
        with self.lock:
            return max(1, min(120, math.ceil(self.seconds * (self.active / self.workers))))

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"in_flight": self.active, "limit": self.cap, "workers": self.workers,
                    "served": self.served, "cancelled": self.cancelled}


def _work(path: str, opts: dict[str, Any], cancel: threading.Event, workdir: str,
          device: str) -> bytes:
    """One request's image, exactly as `bgone remove` makes and encodes it."""
    from . import pipeline, writer

    try:
        if cancel.is_set():  # its client left or its time ran out while it waited
            raise Cancelled()
        img = pipeline.remove(path, device=device, cancel=cancel, **opts)
        buf = io.BytesIO()
        writer.encode(img, buf, writer.FORMATS[".png"], img.info.get("icc_profile"))
        return buf.getvalue()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def openapi(version: str) -> dict[str, Any]:
    """The OpenAPI 3 document, generated from PARAMS."""
    def params(where: str) -> list[dict[str, Any]]:
        return [{"name": p.name, "in": where, "required": False, "description": p.doc,
                 "schema": {"type": p.kind}} for p in PARAMS]

    png = {"200": {"description": "The cutout, mask or composite as PNG",
                   "content": {"image/png": {}}},
           "4XX": {"description": "Bad request: JSON {kind, message, hint, detail}"},
           "503": {"description": "Busy: retry after the Retry-After header's seconds"}}
    form = {p.name: {"type": p.kind, "description": p.doc} for p in PARAMS}
    form["file"] = {"type": "string", "format": "binary", "description": "The image."}
    return {
        "openapi": "3.0.3",
        "info": {"title": "bgone", "version": version,
                 "description": "Local background removal; rembg-compatible /api/remove."},
        "paths": {
            "/api/remove": {
                "get": {"summary": "Remove the background of the image at ?url= (allow-listed hosts only)",
                        "parameters": [{"name": "url", "in": "query", "required": True,
                                        "schema": {"type": "string"}}, *params("query")],
                        "responses": png},
                "post": {"summary": "Remove the background of the uploaded image",
                         "requestBody": {"content": {"multipart/form-data": {"schema": {
                             "type": "object", "required": ["file"], "properties": form}}}},
                         "responses": png},
            },
            "/api/models": {"get": {"summary": "Known models, installed or not",
                                    "responses": {"200": {"description": "JSON list"}}}},
            "/health": {"get": {"summary": "Liveness and load",
                                "responses": {"200": {"description": "JSON"}}}},
        },
    }


def docs_page(spec: dict[str, Any]) -> str:
    """A self-contained HTML rendering of the OpenAPI document (no assets from the internet)."""
    from html import escape

    rows = "".join(f"<tr><td><code>{escape(p.name)}</code></td><td>{p.kind}</td>"
                   f"<td>{escape(p.doc)}</td></tr>" for p in PARAMS)
    paths = "".join(f"<li><code>{m.upper()} {escape(path)}</code>: {escape(op['summary'])}</li>"
                    for path, ops in spec["paths"].items() for m, op in ops.items())
    return (f"<!doctype html><meta charset=utf-8><title>bgone API</title>"
            f"<h1>bgone API {escape(spec['info']['version'])}</h1><ul>{paths}</ul>"
            f"<h2>Parameters of /api/remove</h2><p>Form fields (POST, with the image as "
            f"<code>file</code>) or query parameters.</p><table border=1 cellpadding=4>"
            f"<tr><th>name</th><th>type</th><th>meaning</th></tr>{rows}</table>"
            f"<p>Machine-readable: <a href=/openapi.json>/openapi.json</a></p>")


def create_app(limits: Limits, default_model: str, allow_urls: tuple[str, ...] = (),
               device: str = "auto") -> Any:
    """The ASGI application. The pool of workers lives as long as the app."""
    from starlette.applications import Starlette
    from starlette.formparsers import MultiPartException, MultiPartParser
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    from . import catalog, pipeline, store
    from .version import __version__

    slots = Slots(cap=limits.workers + limits.queue, workers=limits.workers)
    pool = ThreadPoolExecutor(limits.workers, thread_name_prefix="bgone-serve")
    spec = openapi(__version__)

    def failure(e: BgoneError, workdir: str | None = None, headers: dict[str, str] | None = None) -> Response:
        body = e.to_dict()
        if workdir:  # the upload's own name, as the CLI would name the file
            body = {k: v.replace(workdir + os.sep, "") for k, v in body.items()}
        body["detail"] = body["message"]  # where rembg's clients (FastAPI) look
        return JSONResponse(body, STATUS.get(e.kind, 500), headers=headers)

    async def read_upload(request: Request, workdir: str) -> tuple[str, dict[str, str]]:
        """The multipart ``file`` saved into workdir, and the other fields; the body is capped."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limits.max_body:
            raise _too_large(limits.max_body)
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise BgoneError("Send the image as a multipart/form-data field named file.",
                             "curl -F file=@photo.jpg http://HOST/api/remove", kind="bad_argument")

        async def capped() -> Any:
            n = 0
            async for chunk in request.stream():
                n += len(chunk)
                if n > limits.max_body:
                    raise _too_large(limits.max_body)
                yield chunk

        try:
            form = await MultiPartParser(request.headers, capped(), max_files=1, max_fields=50).parse()
        except MultiPartException as e:
            raise BgoneError(f"The upload is not valid multipart data ({e.message}).", "",
                             kind="bad_argument") from None
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise BgoneError("The request has no file field with the image.",
                             "curl -F file=@photo.jpg http://HOST/api/remove", kind="bad_argument")
        path = os.path.join(workdir, upload_name(upload.filename))
        with open(path, "wb") as f:
            await asyncio.to_thread(shutil.copyfileobj, upload.file, f, 1 << 20)
        await upload.close()
        return path, {k: v for k, v in form.items() if isinstance(v, str)}

    async def fetch_url(request: Request, workdir: str) -> str:
        from .server_fetch import fetch

        url = request.query_params.get("url")
        if not url:
            raise BgoneError("GET /api/remove needs ?url= with the image's address.",
                             "Or POST the image as a multipart field named file.", kind="bad_argument")
        if not allow_urls:
            raise BgoneError("This server does not fetch images by URL.",
                             "Start it with --allow-url HOST to fetch from HOST, or POST the image.",
                             kind="url_off")
        data = await asyncio.to_thread(fetch, url, allow_urls, limits.max_body, 30.0)
        path = os.path.join(workdir, upload_name(url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]))
        with open(path, "wb") as f:
            f.write(data)
        return path

    async def remove(request: Request) -> Response:
        if not slots.try_enter():
            n = slots.retry_after()
            return failure(BgoneError(f"The server is busy ({slots.cap} requests in progress or waiting).",
                                      f"Retry in {n} s.", kind="busy"), headers={"Retry-After": str(n)})
        started = time.monotonic()
        workdir = tempfile.mkdtemp(prefix="bgone-serve-")
        cancel = threading.Event()
        job: Future[bytes] | None = None
        try:
            try:  # a slow upload or source must not hold its slot for ever either
                if request.method == "POST":
                    path, fields = await asyncio.wait_for(read_upload(request, workdir), limits.timeout)
                else:
                    path, fields = await asyncio.wait_for(fetch_url(request, workdir), limits.timeout), {}
            except asyncio.TimeoutError:
                raise BgoneError(f"The image did not arrive within this server's {limits.timeout:g} s limit.",
                                 "Check the connection, or send a smaller image.", kind="slow_upload") from None
            query = request.query_params
            opts = options(lambda k: fields.get(k, query.get(k)), default_model)
            model = pipeline.resolve_model(opts["model"])
            if not store.is_installed(model):
                raise ModelNotInstalled(f"The model {model.name} is not installed on this server.",
                                        f"Install it there with `bgone models download {model.name}`.")
            job = pool.submit(_work, path, opts, cancel, workdir, device)
            job.add_done_callback(lambda f: slots.leave(
                None if f.exception() else time.monotonic() - started, cancel.is_set()))
            waiting = asyncio.wrap_future(job)
            while True:
                done, _ = await asyncio.wait({waiting}, timeout=0.2)
                if done:
                    break
                if await request.is_disconnected():
                    cancel.set()  # the work stops at its next stage; the slot frees with it
                    return Response(status_code=499)
                if time.monotonic() - started > limits.timeout:
                    cancel.set()
                    raise BgoneError(f"The image took longer than this server's {limits.timeout:g} s limit.",
                                     "Send a smaller image, or retry when the server is less busy.",
                                     kind="cancelled")
            return Response(waiting.result(), media_type="image/png")
        except BgoneError as e:
            return failure(e, workdir)
        except ClientDisconnect:  # went away while sending: nothing to answer
            return Response(status_code=499)
        except MemoryError:
            return failure(BgoneError("The server ran out of memory for this image.",
                                      "Retry later, or send a smaller image.", kind="busy"),
                           headers={"Retry-After": "30"})
        except Exception:  # the server must outlive any one request
            log.exception("request failed")
            return failure(BgoneError("The server failed on this request.", "See the server's log."))
        finally:
            if job is None:
                slots.leave()
                shutil.rmtree(workdir, ignore_errors=True)

    async def models(request: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(catalog.model_rows))

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__, "model": default_model,
                             **slots.snapshot()})

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(spec)

    async def docs(request: Request) -> Response:
        return HTMLResponse(docs_page(spec))

    app = Starlette(routes=[
        Route("/api/remove", remove, methods=["GET", "POST"]),
        Route("/api/models", models),
        Route("/health", health),
        Route("/openapi.json", openapi_json),
        Route("/api", docs),
        Route("/docs", docs),
    ])
    app.state.slots = slots
    return app


def _too_large(limit: int) -> BgoneError:
    return BgoneError(f"The upload is larger than this server's {limit / 1e6:g} MB limit.",
                      "Send a smaller file, or start the server with a larger --max-upload-mb.",
                      kind="too_large")


def _is_local(host: str) -> bool:
    try:
        return all(__import__("ipaddress").ip_address(i[4][0].split("%")[0]).is_loopback
                   for i in socket.getaddrinfo(host, None))
    except (OSError, ValueError):
        return False


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is announced (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise BgoneError(f"Cannot listen on {host}:{port} ({e.strerror or e}).",
                         "Choose another --port, or stop what is using it.", kind="usage") from None
    sock.listen(128)
    return sock


def make_server(app: Any, limits: Limits) -> Any:
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_keep_alive=5,
                            limit_concurrency=4 * (limits.workers + limits.queue) + 16)
    return uvicorn.Server(config)


def warm(model: str | None, device: str = "auto") -> Any:
    """The default model, installed (downloaded if need be) and its session loaded: paid at
    start-up, not by the first request."""
    from . import inference, pipeline, store

    spec = pipeline.resolve_model(model)
    inference.get_session(store.ensure_model(spec), device)
    return spec


def serve(host: str, port: int, limits: Limits, model: str | None, allow_urls: tuple[str, ...],
          device: str = "auto") -> int:
    """Load the model, bind, say where and to whom the server listens, and serve until Ctrl+C."""
    require()
    spec = warm(model, device)
    sock = bind(host, port)
    where = f"http://{host if ':' not in host else f'[{host}]'}:{sock.getsockname()[1]}"
    reach = ("this machine only; --host 0.0.0.0 accepts other machines" if _is_local(host)
             else "reachable from other machines, with no authentication: put it behind your firewall or proxy")
    print(f"bgone serve: {where} ({reach}). Model {spec.name}, {limits.workers} worker(s), "
          f"{limits.queue} waiting at most. API docs: {where}/api. Ctrl+C stops.", file=sys.stderr)
    if allow_urls:
        print(f"bgone serve: fetches ?url= images from {', '.join(allow_urls)} (public addresses only).",
              file=sys.stderr)
    make_server(create_app(limits, spec.name, allow_urls, device), limits).run(sockets=[sock])
    return 0
