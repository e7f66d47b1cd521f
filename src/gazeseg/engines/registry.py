"""Engines by name. Heavy engines import torch only when created."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gazeseg.core.errors import InputError
from gazeseg.engines.base import Engine

_FACTORIES: dict[str, Callable[..., Engine]] = {}


def register_engine(name: str) -> Callable[[Callable[..., Engine]], Callable[..., Engine]]:
    def decorator(factory: Callable[..., Engine]) -> Callable[..., Engine]:
        _FACTORIES[name] = factory
        return factory

    return decorator


def _load_builtin() -> None:
    # Importing these modules registers their factories; they import torch lazily.
    import gazeseg.engines.classic  # noqa: F401

    for module in ("gazeseg.engines.sam", "gazeseg.engines.sam2"):
        try:
            __import__(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise


def available_engines() -> list[str]:
    _load_builtin()
    return sorted(_FACTORIES)


def create_engine(name: str = "classic", **options: Any) -> Engine:
    """Build an engine by name (``classic``, ``sam``, ``sam2``) with engine-specific options."""
    _load_builtin()
    if name not in _FACTORIES:
        raise InputError(f"engine: unknown name '{name}'; choose one of {', '.join(sorted(_FACTORIES))}")
    return _FACTORIES[name](**options)
