"""Model versions in the app: list the project's fine-tuned versions and switch the engine to one.

``gazeseg finetune PROJECT`` writes numbered versions next to the project (``models/v001`` ...);
the page lists them and ``POST /api/models {"version": "v002"}`` answers every following prompt
with that version; ``{"version": "base"}`` goes back to the engine the app was started with. The
choice is kept in the project, so a restart comes back to it.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from fastapi import APIRouter, Request

from gazeseg.core.errors import InputError

BASE = "base"
SETTING = "model_version"


class ModelSwitch:
    """The engine the app started with, the versions folder, and which version is in use."""

    def __init__(self, session, models_dir: Path) -> None:  # noqa: ANN001
        self.session = session
        self.models_dir = Path(models_dir)
        self.base_engine = session.engine
        self.active = BASE
        self._lock = threading.Lock()

    def listing(self) -> dict:
        from gazeseg.learn.versions import describe, list_versions

        return {
            "active": self.active,
            "engine": self.session.engine.model_id,
            "base": {"name": BASE, "engine": self.base_engine.name, "model_id": self.base_engine.model_id},
            "versions": [describe(v) for v in list_versions(self.models_dir)],
            "folder": str(self.models_dir),
        }

    def switch(self, name: str) -> dict:
        """Load version ``name`` (or ``base``) and hand it to the session; blocking (model load)."""
        from gazeseg.learn.versions import engine_for_version, get_version

        with self._lock:
            if name == BASE:
                engine = self.base_engine
            else:
                engine = engine_for_version(get_version(self.models_dir, name))
            if engine is not self.session.engine:
                self.session.set_engine(engine)
            self.active = name
            self.session.store.set_setting(SETTING, name)
        return self.listing()

    def restore(self) -> None:
        """Come back to the version chosen before a restart (silently the base if it is gone)."""
        saved = self.session.store.get_setting(SETTING, BASE)
        if saved and saved != BASE:
            try:
                self.switch(saved)
            except InputError as error:
                self.session.store.log("engine_restore_failed", version=saved, error=str(error))


def build_router(switch: ModelSwitch) -> APIRouter:
    router = APIRouter()

    @router.get("/api/models")
    def models() -> dict:
        return switch.listing()

    @router.post("/api/models")
    async def choose(request: Request) -> dict:
        try:
            body = await request.json()
        except ValueError as error:
            raise InputError(f"request body: expected JSON such as {{\"version\": \"v001\"}} ({error})") from error
        name = body.get("version") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            raise InputError(f"version: expected a version name such as 'v001' or '{BASE}', got {name!r}")
        return await asyncio.to_thread(switch.switch, name)

    return router
