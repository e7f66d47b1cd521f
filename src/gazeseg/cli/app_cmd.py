"""``gazeseg app [PATH ...]``: the local annotation app in the browser."""

from __future__ import annotations

import argparse
import os
import socket
import threading
import webbrowser
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("app", help="annotate images and volumes with gaze in the browser")
    p.add_argument("paths", nargs="*", type=Path, help="images, folders, .nii/.nii.gz files or DICOM folders (default: sample images)")
    p.add_argument("--project", type=Path, default=None, help="SQLite project file (default: next to the data)")
    p.add_argument("--engine", default="auto", help="classic, sam, sam2 or auto")
    p.add_argument("--checkpoint", type=Path, default=None)
    p.add_argument("--host", default="127.0.0.1", help="bind address (anything but loopback requires the printed token)")
    p.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    p.add_argument("--webgazer", type=Path, default=None, help="path to webgazer.js for in-browser webcam gaze")
    p.set_defaults(func=run)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from gazeseg.app import AppSettings, create_app

    port = args.port or free_port(args.host)
    settings = AppSettings(paths=list(args.paths), project=args.project, engine=args.engine, checkpoint=args.checkpoint,
                           host=args.host, port=port, webgazer=args.webgazer)
    app = create_app(settings)
    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{port}/"
    if settings.token:
        url += f"?token={settings.token}"
    print(f"gazeseg app: {url}  (project {app.state.project_path}; Ctrl+C to stop)", flush=True)
    if not args.no_browser and (os.environ.get("DISPLAY") or os.name != "posix" or os.environ.get("WAYLAND_DISPLAY") or _is_mac()):
        threading.Timer(1.0, lambda: webbrowser.open(url)).start()
    uvicorn.run(app, host=args.host, port=port, log_level="warning")
    return 0


def _is_mac() -> bool:
    import sys

    return sys.platform == "darwin"
