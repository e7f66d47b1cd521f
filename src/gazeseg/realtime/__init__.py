"""The real-time loop: a fixation to its mask preview within a 25 ms budget on a laptop CPU.

``LiveSegmenter`` (live) is what surfaces use; ``StageTimer`` (latency) times each stage;
``Prefetcher`` (prefetch) embeds upcoming images ahead of time; ``tiles`` crops large images
around the gaze; ``GazeSamLoop`` (gazesam_loop) is GazeSAM's 10 ms loop, kept as the baseline.
Nothing here imports torch.
"""

from gazeseg.realtime.latency import StageSummary, StageTimer, summarize
from gazeseg.realtime.live import LiveSegmenter, LiveStats, Preview

__all__ = ["LiveSegmenter", "LiveStats", "Preview", "StageSummary", "StageTimer", "summarize"]
