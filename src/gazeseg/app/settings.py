"""App settings: what to open, where to keep the project, which engine, how to listen."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class AppSettings:
    paths: list[Path] = field(default_factory=list)
    """Images, folders, NIfTI files or DICOM folders; empty: built-in sample images."""
    project: Path | None = None
    """SQLite project file; default: next to the data, or in the user data folder for samples."""
    engine: str = "auto"
    checkpoint: Path | None = None
    models_dir: Path | None = None
    """Fine-tuned model versions (``gazeseg finetune``) the app can switch to; default: PROJECT's folder/models."""
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    max_upload_bytes: int = 256 << 20
    max_request_bytes: int = 8 << 20
    prefetch_ahead: int = 2
    webgazer: Path | None = None
    """webgazer.js (npm package 'webgazer', GPL-3.0, so not bundled) to serve for in-browser webcam gaze."""
    open_browser: bool = True

    def __post_init__(self) -> None:
        if self.token is None and not is_loopback(self.host):
            self.token = secrets.token_urlsafe(16)

    @property
    def needs_token(self) -> bool:
        return self.token is not None


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
