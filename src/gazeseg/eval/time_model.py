"""A model of human annotation time per object, for the mouse and for gaze. MODELLED, NOT MEASURED.

The times this module gives come from published human-performance constants applied to the
simulated click and gaze sequences; they were not measured on people. They compare input
methods under stated assumptions, the way the Keystroke-Level Model is used in HCI.

Per object, both methods pay the same
- visual search for the object, ``search_s`` (one KLM mental operator M = 1.35 s; Card, Moran &
  Newell 1980, "The keystroke-level model for user performance time with interactive systems",
  CACM 23(7)), repeated before every correction to find the largest error;
- the engine's response (measured wall time of the decode);
- checking the mask after every interaction, ``check_s`` (one M);
- the accept key at the end (one keystroke K = 0.28 s, KLM's average non-secretary typist).

Mouse interactions add (after the eyes found the target, as the eye leads the hand):
- the decision where to click (M, KLM rule 0: an M before each pointing operation);
- homing the hand from the keyboard to the mouse once per object (H = 0.4 s, KLM);
- pointing, Fitts' law in MacKenzie's Shannon form MT = a + b log2(D/W + 1) with the mouse
  constants a = -0.107 s, b = 0.223 s/bit (MacKenzie, Sellen & Buxton 1991, CHI '91, as
  tabulated in MacKenzie 1992, "Fitts' law as a research and design tool in human-computer
  interaction", HCI 7(1)); D is the cursor travel, W twice the distance from the click to the
  edge of the region it must land in (the widest target that still gives the same prompt);
- the click, press and release, 2 x B = 0.2 s (KLM).

Gaze interactions add:
- the saccade to the target: latency 0.2 s (Carpenter 1988, "Movements of the Eyes"; Leigh & Zee,
  "The Neurology of Eye Movements") and duration 21 ms + 2.2 ms/deg (Carpenter's main sequence);
  for the first look of an object both are already part of the visual search;
- the dwell the strategy needs before it prompts (its dwell threshold, or the fixation time);
- the confirm key that triggers the prompt (K = 0.28 s), as in GazeSAM; rejecting a false part
  is a look plus a second key (another K).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class TimeConstants:
    """Constants of the model, seconds; see the module docstring for their sources."""

    mental_s: float = 1.35
    keystroke_s: float = 0.28
    button_s: float = 0.1
    homing_s: float = 0.4
    fitts_a_s: float = -0.107
    fitts_b_s: float = 0.223
    saccade_latency_s: float = 0.2
    saccade_base_s: float = 0.021
    saccade_per_deg_s: float = 0.0022


@dataclass(frozen=True)
class Interaction:
    """One click or look: where it went (screen px), the target's width there (screen px), its label.

    ``engine_s`` is the measured decode time; ``dwell_s`` the gaze dwell it needed (gaze only).
    """

    x: float
    y: float
    width_px: float
    label: int = 1
    engine_s: float = 0.0
    dwell_s: float = 0.0


@dataclass
class TimeBreakdown:
    """Seconds per component and their total for one object."""

    parts: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.parts[name] = self.parts.get(name, 0.0) + float(seconds)

    @property
    def total_s(self) -> float:
        return float(sum(self.parts.values()))

    def to_dict(self) -> dict[str, float]:
        return {**self.parts, "total_s": self.total_s}


def fitts_time_s(distance_px: float, width_px: float, constants: TimeConstants = TimeConstants()) -> float:
    """Movement time of a pointing action, Shannon formulation; never below zero."""
    width = max(float(width_px), 1.0)
    index_bits = math.log2(max(float(distance_px), 0.0) / width + 1.0)
    return max(0.0, constants.fitts_a_s + constants.fitts_b_s * index_bits)


def saccade_time_s(amplitude_deg: float, constants: TimeConstants = TimeConstants()) -> float:
    """Latency plus main-sequence duration of a saccade of ``amplitude_deg``."""
    return constants.saccade_latency_s + constants.saccade_base_s + constants.saccade_per_deg_s * abs(float(amplitude_deg))


def mouse_time(
    clicks: list[Interaction],
    *,
    start_xy: tuple[float, float],
    constants: TimeConstants = TimeConstants(),
) -> TimeBreakdown:
    """Modelled time to annotate one object with ``clicks`` (screen px), the cursor starting at ``start_xy``."""
    c = constants
    out = TimeBreakdown()
    out.add("search", c.mental_s)
    out.add("homing", c.homing_s)
    cursor = np.asarray(start_xy, float)
    for i, click in enumerate(clicks):
        if i:
            out.add("search", c.mental_s)  # find the largest error
        target = np.array([click.x, click.y])
        out.add("decide", c.mental_s)
        out.add("point", fitts_time_s(float(np.hypot(*(target - cursor))), click.width_px, c))
        out.add("click", 2 * c.button_s)
        out.add("engine", click.engine_s)
        out.add("check", c.mental_s)
        cursor = target
    out.add("accept", c.keystroke_s)
    return out


def gaze_time(
    looks: list[Interaction],
    *,
    px_per_deg: float,
    constants: TimeConstants = TimeConstants(),
) -> TimeBreakdown:
    """Modelled time to annotate one object with ``looks`` (screen px); ``px_per_deg`` in screen px."""
    c = constants
    out = TimeBreakdown()
    out.add("search", c.mental_s)
    previous = None
    for i, look in enumerate(looks):
        target = np.array([look.x, look.y])
        if i:
            out.add("search", c.mental_s)
            out.add("saccade", saccade_time_s(float(np.hypot(*(target - previous))) / px_per_deg, c))
        out.add("dwell", look.dwell_s)
        out.add("confirm", c.keystroke_s * (1 if look.label == 1 else 2))
        out.add("engine", look.engine_s)
        out.add("check", c.mental_s)
        previous = target
    out.add("accept", c.keystroke_s)
    return out


def constants_table(constants: TimeConstants = TimeConstants()) -> dict[str, float]:
    return asdict(constants)


#: GazeSAM's user study (Wang et al. 2024, PMLR 226): whole-set times (s) and mIoU (%), for context.
GAZESAM_REPORTED = {
    "grabcut": {"gaze_s": 125.0, "mouse_s": 232.0, "gaze_miou": 92.10, "mouse_miou": 92.31},
    "berkeley": {"gaze_s": 266.0, "mouse_s": 424.0, "gaze_miou": 85.56, "mouse_miou": 88.33},
}
