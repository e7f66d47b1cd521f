"""HTTP and WebSocket routes of the app. Thin: every decision is in ``AnnotationSession``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from gazeseg.app.catalog import discover, register_paths, write_samples
from gazeseg.app.session import AnnotationSession
from gazeseg.app.settings import AppSettings
from gazeseg.core.errors import GazesegError, InputError
from gazeseg.store import ProjectStore

STATIC = Path(__file__).parent / "static"
SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


def default_project(settings: AppSettings) -> Path:
    if settings.project is not None:
        return settings.project
    if not settings.paths:
        from gazeseg.engines.cache import default_cache_dir

        return default_cache_dir().parent / "projects" / "samples" / "project.sqlite"
    first = settings.paths[0]
    base = first if first.is_dir() else first.parent
    return base / "gazeseg-project.sqlite"


def build_app(settings: AppSettings) -> FastAPI:
    from gazeseg.engines.select import engine_from_args

    project_path = default_project(settings)
    store = ProjectStore(project_path)
    paths = settings.paths or write_samples(project_path.parent / "samples")
    register_paths(store, discover([Path(p) for p in paths]))
    engine = engine_from_args(settings.engine, settings.checkpoint)
    session = AnnotationSession(store, engine, prefetch_ahead=settings.prefetch_ahead)
    export_dir = project_path.parent / "exports"
    upload_dir = project_path.parent / "uploads"

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):  # noqa: ANN202 - stop trackers and workers on shutdown
        yield
        for source in _app.state.gaze_sources.values():
            source.stop()
        session.close()

    app = FastAPI(title="gazeseg", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.session = session
    app.state.settings = settings
    app.state.project_path = project_path
    app.state.gaze_sources = {}

    # -- safety ----------------------------------------------------------------------------
    @app.middleware("http")
    async def guard(request: Request, call_next):  # noqa: ANN001, ANN202
        if settings.needs_token:
            given = request.query_params.get("token") or request.headers.get("x-gazeseg-token") or request.cookies.get("gazeseg_token")
            if given != settings.token:
                return JSONResponse({"error": "this gazeseg server needs its access token: open the URL it printed"}, status_code=401)
        limit = settings.max_upload_bytes if request.url.path == "/api/upload" else settings.max_request_bytes
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return JSONResponse({"error": f"request too large: {int(length):,} bytes, the limit is {limit:,}"}, status_code=413)
        response = await call_next(request)
        if settings.needs_token and request.query_params.get("token") == settings.token:
            response.set_cookie("gazeseg_token", settings.token, httponly=True, samesite="strict")
        return response

    @app.exception_handler(GazesegError)
    async def on_error(_request: Request, error: GazesegError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=400)

    @app.exception_handler(ValueError)
    async def on_value_error(_request: Request, error: ValueError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=400)

    # -- pages -----------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text())

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/vendor/webgazer.js")
    def webgazer() -> FileResponse:
        path = settings.webgazer
        if path is None or not Path(path).is_file():
            return JSONResponse(  # type: ignore[return-value]
                {"error": "WebGazer is not installed: `npm install webgazer`, then start with --webgazer node_modules/webgazer/dist/webgazer.js"},
                status_code=404,
            )
        return FileResponse(path, media_type="text/javascript")

    # -- data ------------------------------------------------------------------------------
    @app.get("/api/items")
    def items() -> list[dict]:
        return [
            {"id": i.id, "name": i.name, "kind": i.kind, "height": i.height, "width": i.width, "depth": i.depth, "error": i.error}
            for i in store.items()
        ]

    @app.get("/api/labels")
    def labels() -> list[dict]:
        return [{"id": l.id, "name": l.name, "color": l.color} for l in store.labels()]

    @app.post("/api/labels")
    async def add_label(request: Request) -> dict:
        body = await _json(request)
        color = str(body.get("color", "#ff851b"))
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", color):
            raise InputError(f"label colour: expected #rrggbb, got {color!r}")
        return {"id": store.add_label(str(body.get("name", "")), color)}

    @app.get("/api/items/{item_id}/image.png")
    def image_png(item_id: int, slice: int = 0, window: str | None = None) -> Response:  # noqa: A002
        import cv2

        rgb = session.catalog.rgb(item_id, slice, window)
        ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        return Response(bytes(buf), media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.get("/api/items/{item_id}/overlay.png")
    def overlay_png(item_id: int, slice: int = 0) -> Response:  # noqa: A002
        return Response(session.overlay_png(item_id, slice), media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.get("/api/state")
    def state() -> dict:
        out = session.state()
        out["restore"] = session.restore()
        return out

    @app.post("/api/open")
    async def open_item(request: Request) -> dict:
        body = await _json(request)
        window = body.get("window") or None
        await asyncio.to_thread(session.open, int(body["item"]), int(body.get("slice", 0)), window)
        return session.state()

    @app.post("/api/click")
    async def click(request: Request) -> dict:
        body = await _json(request)
        session.click(float(body["x"]), float(body["y"]), bool(body.get("positive", True)))
        return {"ok": True}

    @app.post("/api/accept")
    async def accept(request: Request) -> dict:
        body = await _json(request)
        scale = body.get("view_scale")  # sent for eye trackers: learn their offset from this mask
        mask_id = await asyncio.to_thread(session.accept, int(body.get("label", store.labels()[0].id)),
                                          page_px_per_image_px=None if scale is None else float(scale))
        return {"mask": mask_id, **session.state()}

    @app.post("/api/reject")
    def reject() -> dict:
        session.reject()
        return session.state()

    @app.post("/api/undo")
    def undo() -> dict:
        row = store.undo()
        return {"undone": None if row is None else {"id": row.id, "item": row.item_id, "slice": row.slice_index}, **session.state()}

    @app.post("/api/redo")
    def redo() -> dict:
        row = store.redo()
        return {"redone": None if row is None else {"id": row.id, "item": row.item_id, "slice": row.slice_index}, **session.state()}

    @app.post("/api/carry")
    async def carry(request: Request) -> dict:
        body = await _json(request)
        await asyncio.to_thread(session.carry, int(body.get("dz", 1)))
        return session.state()

    @app.post("/api/export")
    async def export() -> dict:
        written = await asyncio.to_thread(session.export, export_dir)
        return {"folder": str(export_dir), "files": {k: [Path(p).name for p in v] for k, v in written.items()}}

    @app.get("/api/export/{name}")
    def export_file(name: str) -> FileResponse:
        if not SAFE_NAME.fullmatch(name) or name.startswith("."):
            raise InputError("export file: expected a plain file name")
        path = export_dir / name
        if not path.is_file():
            return JSONResponse({"error": f"no exported file named {name}; export first"}, status_code=404)  # type: ignore[return-value]
        return FileResponse(path)

    @app.post("/api/upload")
    async def upload(file: UploadFile) -> dict:
        name = Path(file.filename or "upload").name
        if not SAFE_NAME.fullmatch(name):
            name = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:200] or "upload"
        upload_dir.mkdir(parents=True, exist_ok=True)
        target = upload_dir / name
        size = 0
        with target.open("wb") as handle:
            while chunk := await file.read(1 << 20):
                size += len(chunk)
                if size > settings.max_upload_bytes:
                    handle.close()
                    target.unlink(missing_ok=True)
                    raise InputError(f"upload: {name} is larger than the limit of {settings.max_upload_bytes:,} bytes")
                handle.write(chunk)
        register_paths(store, [target])
        item = next(i for i in store.items() if i.path == str(target.resolve()))
        if item.error:
            return JSONResponse({"error": item.error, "item": item.id}, status_code=400)  # type: ignore[return-value]
        return {"item": item.id}

    @app.post("/api/validation")
    async def validation(request: Request) -> dict:
        """Accuracy of gaze recorded on in-page targets (page px), in degrees for the given screen."""
        from gazeseg.core.geometry import ViewingGeometry
        from gazeseg.gaze.calibration import CalibrationModel, validate

        body = await _json(request)
        geometry = ViewingGeometry(**body.get("geometry", {}))
        targets = np.asarray(body["targets"], float)
        samples = [np.asarray(s, float).reshape(-1, 2) for s in body["samples"]]
        before = validate(targets, samples, geometry)
        centres = np.array([s.mean(0) if len(s) else [np.nan, np.nan] for s in samples])
        model = CalibrationModel("affine" if len(targets) >= 3 else "offset").fit(centres, targets)
        after = validate(targets, [model.apply(s) if len(s) else s for s in samples], geometry)
        store.set_setting("calibration", json.dumps(model.to_dict()))
        session.reset_recalibration()
        store.log("validation", accuracy_deg=before.accuracy_deg, corrected_deg=after.accuracy_deg)
        return {"accuracy_deg": before.accuracy_deg, "precision_deg": before.precision_rms_deg,
                "accuracy_px": before.accuracy_px, "corrected_accuracy_deg": after.accuracy_deg, "model": model.to_dict()}

    @app.get("/api/sources")
    def sources() -> dict:
        from gazeseg.gaze.sources import SOURCE_NAMES

        return {"available": list(SOURCE_NAMES), "running": list(app.state.gaze_sources)}

    @app.post("/api/sources/{name}")
    async def start_source(name: str, request: Request) -> dict:
        """Start a server-side tracker; its samples (display_norm) are streamed to the page."""
        from gazeseg.gaze.sources import create_source

        if name in ("mouse", "replay"):
            raise InputError(f"gaze source '{name}' runs in the page, not on the server")
        body = await _json(request)
        source = create_source(name, **body.get("options", {}))
        await asyncio.to_thread(source.start)
        app.state.gaze_sources[name] = source
        return {"running": list(app.state.gaze_sources)}

    from gazeseg.app.retina_routes import build_router

    app.include_router(build_router(session))

    from gazeseg.app import model_routes

    switch = model_routes.ModelSwitch(session, settings.models_dir or project_path.parent / "models")
    switch.restore()
    app.state.models = switch
    app.include_router(model_routes.build_router(switch))

    # -- live ------------------------------------------------------------------------------
    @app.websocket("/ws")
    async def live(ws: WebSocket) -> None:
        if settings.needs_token and ws.query_params.get("token") != settings.token and ws.cookies.get("gazeseg_token") != settings.token:
            await ws.close(code=4401)
            return
        await ws.accept()
        loop = asyncio.get_running_loop()
        outbox: asyncio.Queue[dict] = asyncio.Queue(maxsize=64)

        def listener(message: dict) -> None:
            def put() -> None:
                if message.get("type") == "preview":  # only the newest preview matters
                    stale = [m for m in list(outbox._queue) if m.get("type") == "preview"]  # type: ignore[attr-defined]
                    for m in stale:
                        outbox._queue.remove(m)  # type: ignore[attr-defined]
                if not outbox.full():
                    outbox.put_nowait(message)

            loop.call_soon_threadsafe(put)

        session.listeners.append(listener)
        stop = threading.Event()

        async def sender() -> None:
            while True:
                message = await outbox.get()
                await ws.send_text(json.dumps(message))

        async def tracker_pump() -> None:
            while not stop.is_set():
                for name, source in list(app.state.gaze_sources.items()):
                    try:
                        samples = source.read()
                    except GazesegError as error:
                        app.state.gaze_sources.pop(name, None)
                        await outbox.put({"type": "source_error", "source": name, "error": str(error)})
                        continue
                    if len(samples):
                        await outbox.put({"type": "tracker", "source": name, "t": samples.t_s.tolist(),
                                          "xy": np.nan_to_num(samples.xy, nan=-1).tolist(), "valid": samples.valid.tolist()})
                await asyncio.sleep(0.015)

        tasks = [asyncio.create_task(sender()), asyncio.create_task(tracker_pump())]
        try:
            while True:
                raw = await ws.receive_text()
                if len(raw) > settings.max_request_bytes:
                    await outbox.put({"type": "error", "error": "message too large"})
                    continue
                try:
                    message = json.loads(raw)
                    await _handle(session, message, outbox)
                except (GazesegError, ValueError, KeyError, TypeError) as error:
                    await outbox.put({"type": "error", "error": str(error)})
        except WebSocketDisconnect:
            pass
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            if listener in session.listeners:
                session.listeners.remove(listener)
            session.flush_gaze()

    return app


async def _handle(session: AnnotationSession, message: dict, outbox: asyncio.Queue) -> None:
    kind = message.get("type")
    if kind == "gaze":
        t = np.asarray(message["t"], float) / 1000.0  # page clock in ms
        xy = np.asarray(message["xy"], float).reshape(-1, 2)
        session.push_gaze(t, xy, str(message.get("source", "mouse")))
    elif kind == "click":
        session.click(float(message["x"]), float(message["y"]), bool(message.get("positive", True)))
    elif kind == "ping":
        await outbox.put({"type": "pong", "t": message.get("t")})
    else:
        raise InputError(f"message type: unknown {kind!r}")


async def _json(request: Request) -> dict:
    try:
        body = await request.json()
    except json.JSONDecodeError as error:
        raise InputError(f"request body: expected JSON ({error})") from error
    if not isinstance(body, dict):
        raise InputError("request body: expected a JSON object")
    return body
