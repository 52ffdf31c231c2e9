"""CSM overrides: a score, a band, or one pinned measure, each with a reason and an expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from touchline.shared.messages import BANDS_WORST_FIRST, Band

BANDS: tuple[Band, ...] = BANDS_WORST_FIRST  # worst to best, as a refused band's message lists them
OverrideKind = Literal["score", "band", "measure"]


class OverrideError(ValueError):
    """An override request that cannot be applied; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Override:
    kind: OverrideKind
    reason: str
    set_by: str
    set_at: datetime
    expires_at: datetime
    score: float | None = None  # kind score: the score; kind measure: the pinned measure score
    band: Band | None = None
    measure: str | None = None

    def active(self, at: datetime) -> bool:
        # Set "now" but scored as of event time, which may be a little earlier: only expiry counts.
        return at < self.expires_at

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.kind, self.measure)

    def describe(self) -> str:
        what = {
            "score": f"score set to {self.score:g}" if self.score is not None else "score",
            "band": f"band set to {self.band}",
            "measure": f"measure {self.measure} pinned at {self.score:g}" if self.score is not None else "measure",
        }[self.kind]
        return f"override: {what} by {self.set_by} until {self.expires_at.isoformat()} — {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "reason": self.reason,
            "set_by": self.set_by,
            "set_at": self.set_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "score": self.score,
            "band": self.band,
            "measure": self.measure,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Override:
        return cls(
            kind=data["kind"],
            reason=data["reason"],
            set_by=data["set_by"],
            set_at=datetime.fromisoformat(data["set_at"]),
            expires_at=datetime.fromisoformat(data["expires_at"]),
            score=data.get("score"),
            band=data.get("band"),
            measure=data.get("measure"),
        )


def make_override(
    *,
    kind: str,
    reason: str,
    set_by: str,
    now: datetime,
    expires_at: datetime,
    score: float | None = None,
    band: str | None = None,
    measure: str | None = None,
    known_measures: set[str],
) -> Override:
    """Validate a CSM's request; raise OverrideError naming the field at fault."""
    if kind not in ("score", "band", "measure"):
        raise OverrideError("kind", "must be one of score, band, measure")
    if not reason.strip():
        raise OverrideError("reason", "an override needs a reason")
    if expires_at <= now:
        raise OverrideError("expires_at", "must be in the future")
    if kind in ("score", "measure") and (score is None or not 0 <= score <= 100):
        raise OverrideError("score", "a number from 0 to 100 is required")
    if kind == "band" and band not in BANDS:
        raise OverrideError("band", f"must be one of {', '.join(BANDS)}")
    if kind == "measure" and measure not in known_measures:
        raise OverrideError("measure", f"unknown measure {measure!r}")
    return Override(
        kind=kind,  # type: ignore[arg-type]
        reason=reason.strip(),
        set_by=set_by,
        set_at=now,
        expires_at=expires_at,
        score=score if kind != "band" else None,
        band=band if kind == "band" else None,  # type: ignore[arg-type]
        measure=measure if kind == "measure" else None,
    )


def put(overrides: list[Override], new: Override) -> list[Override]:
    """Replace any override of the same kind (and measure) with ``new``."""
    return [o for o in overrides if o.key != new.key] + [new]


def remove(overrides: list[Override], *, kind: str, measure: str | None = None) -> list[Override]:
    return [o for o in overrides if o.key != (kind, measure if kind == "measure" else None)]


def active(overrides: list[Override], at: datetime) -> list[Override]:
    return [o for o in overrides if o.active(at)]


def unexpired(overrides: list[Override], at: datetime) -> list[Override]:
    """Overrides to keep stored: expired ones are dropped by the next recompute."""
    return [o for o in overrides if at < o.expires_at]
