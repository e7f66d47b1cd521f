"""The browser annotation app (FastAPI + a plain-JS page): look, see the mask, accept."""

from __future__ import annotations

from gazeseg.app.settings import AppSettings


def create_app(settings: AppSettings):  # noqa: ANN201 - FastAPI imported lazily
    from gazeseg.app.server import build_app

    return build_app(settings)


__all__ = ["AppSettings", "create_app"]
