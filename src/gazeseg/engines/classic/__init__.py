"""The weight-free ``classic`` engine: GrabCut seeded by geodesic regions around the prompts.

It needs nothing but OpenCV and scikit-image, so it runs everywhere (CI, laptops without
checkpoints) and is the default whenever no SAM checkpoint is available.
"""

from __future__ import annotations

from gazeseg.engines.classic.engine import ClassicEngine, ClassicParams
from gazeseg.engines.registry import register_engine

__all__ = ["ClassicEngine", "ClassicParams"]


@register_engine("classic")
def _create_classic(**options: object) -> ClassicEngine:
    params = ClassicParams(**{k: v for k, v in options.items() if k in ClassicParams.__dataclass_fields__})  # type: ignore[arg-type]
    unknown = set(options) - set(ClassicParams.__dataclass_fields__) - {"checkpoint", "device"}
    if unknown:
        from gazeseg.core.errors import InputError

        raise InputError(f"classic engine: unknown option(s) {sorted(unknown)}; known: {sorted(ClassicParams.__dataclass_fields__)}")
    return ClassicEngine(params)
