"""Segmentation engines: an expensive image step (``embed``) and a cheap prompt step (``predict``)."""

from gazeseg.engines.base import Embedding, Engine
from gazeseg.engines.registry import available_engines, create_engine

__all__ = ["Embedding", "Engine", "available_engines", "create_engine"]
