"""How the benchmark measures: interleaved runs (wall and CPU time, medians), and SSIM.

CPU time is the whole process's (every thread: libvips and the encoders use several), so a path
that is quick on the wall only because it spreads over both cores does not look cheaper than it is.
"""

import gc
import importlib
import io
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image


@dataclass(frozen=True)
class Timing:
    wall_ms: float
    cpu_ms: float


def timed(run: Callable[[], object]) -> Timing:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return Timing((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)


def interleaved(runs: Mapping[str, Callable[[], object]], repeats: int) -> dict[str, Timing]:
    """Median wall and CPU time of each run. Runs are warmed up once (first-call costs are not the
    steady state), then interleaved with a rotating start, so a busy machine slows all alike and
    none always runs in the wake of another's 100+ MB."""
    for run in runs.values():
        run()
    names = list(runs)
    samples: dict[str, list[Timing]] = {name: [] for name in names}
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(timed(runs[name]))
    return {
        name: Timing(
            round(statistics.median(t.wall_ms for t in values), 1),
            round(statistics.median(t.cpu_ms for t in values), 1),
        )
        for name, values in samples.items()
    }


class Reference:
    """SSIM of outputs against the exact picture: the full-resolution upright image resampled once
    with LANCZOS to the output's own size (no draft, no reducing gap, no encode)."""

    def __init__(self, full: Image.Image) -> None:
        self.full = full
        self._sized: dict[tuple[tuple[int, int, int, int] | None, tuple[int, int]], Any] = {}
        self._numpy: Any = importlib.import_module("numpy")
        self._ssim: Any = importlib.import_module("skimage.metrics").structural_similarity

    def pixels(self, size: tuple[int, int], box: tuple[int, int, int, int] | None = None) -> Any:
        key = (box, size)
        if key not in self._sized:
            region = self.full if box is None else self.full.crop(box)
            self._sized[key] = self._numpy.asarray(region.resize(size, Image.Resampling.LANCZOS))
        return self._sized[key]

    def ssim(self, output: bytes, box: tuple[int, int, int, int] | None = None) -> float:
        with Image.open(io.BytesIO(output)) as image:
            got = image.convert("RGB")
        expected = self.pixels(got.size, box)
        score = self._ssim(expected, self._numpy.asarray(got), channel_axis=2, data_range=255)
        return round(float(score), 4)
