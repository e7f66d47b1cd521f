"""Lab Streaming Layer inlet: any tracker with an LSL app (TittaLSL, Pupil Capture, EyeLink...).

Channel layout: the stream's first two channels are gaze x, y. Values in 0..1 are taken as
display_norm (TittaLSL, Pupil's normalised positions); larger values as screen pixels, unless
``frame`` says otherwise. Timestamps are LSL clock seconds, corrected with ``time_correction``.
"""

from __future__ import annotations

import math
import threading

from gazeseg.core.errors import MissingDependencyError
from gazeseg.gaze.sources.base import GazeSource


class LSLSource(GazeSource):
    name = "lsl"

    def __init__(
        self,
        *,
        stream_type: str = "Gaze",
        stream_name: str | None = None,
        frame: str = "display_norm",
        x_channel: int = 0,
        y_channel: int = 1,
        resolve_timeout_s: float = 5.0,
        stall_timeout_s: float = 2.0,
        record: bool = True,
    ) -> None:
        self.frame = frame
        super().__init__(record=record)
        self.stream_type = stream_type
        self.stream_name = stream_name
        self.channels = (x_channel, y_channel)
        self.resolve_timeout_s = resolve_timeout_s
        self.stall_timeout_s = stall_timeout_s
        self._thread: threading.Thread | None = None
        self._inlet = None

    def _start(self) -> None:
        try:
            import pylsl
        except ImportError as error:
            raise MissingDependencyError("pylsl", "gaze", "the LSL gaze source") from error
        prop, value = ("name", self.stream_name) if self.stream_name else ("type", self.stream_type)
        streams = pylsl.resolve_byprop(prop, value, timeout=self.resolve_timeout_s)
        if not streams:
            from gazeseg.gaze.sources.base import SourceError

            raise SourceError(
                f"gaze source 'lsl': no LSL stream with {prop}='{value}' found within {self.resolve_timeout_s:g} s; "
                "start the tracker's LSL app (e.g. TittaLSL) on this network"
            )
        self._inlet = pylsl.StreamInlet(streams[0], max_buflen=60, recover=False)
        self._inlet.open_stream(timeout=self.resolve_timeout_s)
        self._thread = threading.Thread(target=self._run, name="gaze-lsl", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            from pylsl.util import LostError
        except ImportError:  # older pylsl exposes it at the top level
            from pylsl import LostError  # type: ignore[no-redef]

        inlet = self._inlet
        assert inlet is not None
        cx, cy = self.channels
        silent = 0.0
        try:
            offset = inlet.time_correction(timeout=2.0)
        except Exception:  # noqa: BLE001 - no correction is a fine fallback
            offset = 0.0
        while self.running:
            try:
                chunk, stamps = inlet.pull_chunk(timeout=0.1)
            except LostError:
                self.fail("the LSL stream was lost (tracker app closed or network down)")
                return
            if not stamps:
                silent += 0.1
                if silent >= self.stall_timeout_s:
                    self.fail(f"no samples for {self.stall_timeout_s:g} s (stream stalled or closed)")
                    return
                continue
            silent = 0.0
            for sample, stamp in zip(chunk, stamps):
                x, y = float(sample[cx]), float(sample[cy])
                ok = math.isfinite(x) and math.isfinite(y)
                self.buffer.push(stamp + offset, x, y, ok)

    def _stop(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self._inlet is not None:
            self._inlet.close_stream()
