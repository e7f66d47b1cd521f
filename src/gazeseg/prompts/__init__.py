"""Prompt strategies: gaze samples (image px) -> prompts for an engine -> the chosen mask.

``create_strategy(name, **options)`` builds one by name: ``gazesam-point`` and ``gazesam-all``
(GazeSAM's rules, baselines) or ``fixation`` (ours). Register new ones with ``register_strategy``.
"""

from gazeseg.prompts.base import (
    PromptStrategy,
    Segmentation,
    available_strategies,
    create_strategy,
    register_strategy,
)

__all__ = ["PromptStrategy", "Segmentation", "available_strategies", "create_strategy", "register_strategy"]
