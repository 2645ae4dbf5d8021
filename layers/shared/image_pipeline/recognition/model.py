"""What a backend saw in an image, and the moderation verdict on it.

Every confidence and box coordinate is a fraction (0..1), whatever the backend's own unit
(Rekognition speaks in percent): one scale for the threshold, the schema and every consumer.
"""

import math
from dataclasses import dataclass
from typing import Any, Final

# The backends a deployment can choose (template parameter RecognitionBackend).
BACKENDS: Final = ("rekognition", "onnx", "off")


def _fraction(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{what} must be a number from 0 to 1, not {value!r}")  # NaN fails too
    return float(value)


@dataclass(frozen=True)
class Label:
    """Something the picture shows, with the broader labels it belongs to ("Dog" < "Animal")."""

    name: str
    confidence: float
    parents: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _fraction(self.confidence, f"label {self.name!r} confidence")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "confidence": round(self.confidence, 4), "parents": list(self.parents)}


@dataclass(frozen=True)
class ModerationLabel:
    """Unsafe content the backend found; ``parent`` and ``level`` place it in the backend's
    taxonomy (Rekognition: level 1 "Explicit" > level 2 "Explicit Nudity" > level 3 ...)."""

    name: str
    confidence: float
    parent: str | None = None
    level: int | None = None

    def __post_init__(self) -> None:
        _fraction(self.confidence, f"moderation label {self.name!r} confidence")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "confidence": round(self.confidence, 4),
            "parent": self.parent,
            "level": self.level,
        }


@dataclass(frozen=True)
class Box:
    """A region as fractions of the upright image: ``left``/``top`` of its corner, its size."""

    left: float
    top: float
    width: float
    height: float

    def __post_init__(self) -> None:
        for name in ("left", "top", "width", "height"):
            _fraction(getattr(self, name), f"box {name}")
        if self.left + self.width > 1.0 + 1e-9 or self.top + self.height > 1.0 + 1e-9:
            raise ValueError(f"box {self} reaches outside the image")

    @classmethod
    def within_image(cls, left: float, top: float, width: float, height: float) -> "Box | None":
        """The part of a box inside the image (a detector's box may reach past an edge when a
        face is cut off), or None when nothing of it is inside."""
        if not all(math.isfinite(v) for v in (left, top, width, height)):
            return None
        edges = (max(0.0, left), max(0.0, top), min(1.0, left + width), min(1.0, top + height))
        x0, y0, x1, y1 = (round(edge, 4) for edge in edges)
        if x1 <= x0 or y1 <= y0:
            return None
        return cls(x0, y0, round(x1 - x0, 4), round(y1 - y0, 4))

    def to_json(self) -> dict[str, float]:
        return {"left": self.left, "top": self.top, "width": self.width, "height": self.height}


@dataclass(frozen=True)
class Face:
    box: Box
    confidence: float

    def __post_init__(self) -> None:
        _fraction(self.confidence, "face confidence")

    def to_json(self) -> dict[str, Any]:
        return {"box": self.box.to_json(), "confidence": round(self.confidence, 4)}


@dataclass(frozen=True)
class Findings:
    """What one backend saw in one image. ``None``: the backend cannot tell (not available);
    an empty tuple: it looked and found nothing."""

    backend: str
    labels: tuple[Label, ...] | None
    faces: tuple[Face, ...] | None
    moderation: tuple[ModerationLabel, ...] | None
    model: str | None = None  # the backend's model and version(s), for an audit trail
    input: str | None = None  # how the image reached the backend ("s3-object", "bytes", "rendition ...")

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown recognition backend {self.backend!r} (one of {', '.join(BACKENDS)})")


@dataclass(frozen=True)
class Verdict:
    """The moderation decision: ``flagged`` when any label reached the threshold; ``labels``
    are those that did; ``score`` is the highest confidence reported (None: not available)."""

    flagged: bool
    score: float | None
    threshold: float
    labels: tuple[ModerationLabel, ...] = ()


@dataclass(frozen=True)
class ModerationThreshold:
    """The confidence (0..1) at which a moderation label withholds an image. A label exactly at
    the threshold flags it; 0 flags every image a backend reports any moderation label for."""

    value: float

    # Rekognition reports moderation labels from 50 % unless asked for lower ones.
    DEFAULT_REPORTING_FLOOR: Final = 0.5

    def __post_init__(self) -> None:
        _fraction(self.value, "ModerationThreshold")

    @property
    def reporting_floor(self) -> float:
        """The lowest confidence a backend must report for this threshold to see every label
        that could reach it (and the near misses above Rekognition's default floor)."""
        return min(self.value, self.DEFAULT_REPORTING_FLOOR)

    def judge(self, findings: Findings) -> Verdict:
        if findings.moderation is None:
            return Verdict(flagged=False, score=None, threshold=self.value)
        flagging = tuple(label for label in findings.moderation if label.confidence >= self.value)
        score = max((label.confidence for label in findings.moderation), default=0.0)
        return Verdict(flagged=bool(flagging), score=round(score, 4), threshold=self.value, labels=flagging)
