"""Server-side SVG charts: pure functions from numbers to markup, so no script or network is needed.

Every chart carries role="img" and a text label (screen readers, and band is never colour alone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

BAND_COLOURS = {"good": "#1a7f37", "healthy": "#2f81f7", "caution": "#bf8700", "action_required": "#cf222e"}
NEUTRAL = "#6e7781"


def sparkline(values: Sequence[float], *, width: int = 96, height: int = 24, label: str = "") -> str:
    """A trend line; the y range is stretched to the data (at least 10 points) so small moves show."""
    if not values:
        return f'<svg class="spark" width="{width}" height="{height}" role="img" aria-label="{escape(label)}"></svg>'
    low, high = min(values), max(values)
    if high - low < 10:
        middle = (high + low) / 2
        low, high = middle - 5, middle + 5
    pad = 2
    step = (width - 2 * pad) / max(len(values) - 1, 1)

    def y(v: float) -> float:
        return pad + (height - 2 * pad) * (1 - (v - low) / (high - low))

    points = " ".join(f"{pad + i * step:.1f},{y(v):.1f}" for i, v in enumerate(values))
    colour = BAND_COLOURS["good"] if values[-1] >= values[0] else BAND_COLOURS["action_required"]
    last_x, last_y = pad + (len(values) - 1) * step, y(values[-1])
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
        f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>'
        f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="2" fill="{colour}"/></svg>'
    )


@dataclass(frozen=True)
class Point:
    at: datetime
    score: float
    band: str | None = None


def history_chart(
    points: Sequence[Point],
    *,
    start: datetime,
    end: datetime,
    label: str,
    empty_text: str,
    width: int = 960,
    height: int = 220,
) -> str:
    """Score (0-100) over [start, end]: a step line (a score holds until the next one), dots by band."""
    left, right, top, bottom = 32, 8, 8, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    span = max((end - start).total_seconds(), 1.0)

    def x(at: datetime) -> float:
        return left + plot_w * min(max((at - start).total_seconds() / span, 0.0), 1.0)

    def y(score: float) -> float:
        return top + plot_h * (1 - min(max(score, 0.0), 100.0) / 100)

    parts = [
        f'<svg class="chart" width="100%" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
    ]
    for tick in (0, 25, 50, 75, 100):
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#d0d7de" '
            f'stroke-width="0.5"/><text x="{left - 4}" y="{y(tick) + 4:.1f}" text-anchor="end" '
            f'font-size="10" fill="{NEUTRAL}">{tick}</text>'
        )
    for at, anchor in ((start, "start"), (end, "end")):
        parts.append(
            f'<text x="{x(at):.1f}" y="{height - 6}" text-anchor="{anchor}" font-size="10" '
            f'fill="{NEUTRAL}">{at.date().isoformat()}</text>'
        )
    ordered = sorted((p for p in points if start <= p.at <= end), key=lambda p: p.at)
    if not ordered:
        parts.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
            f'font-size="12" fill="{NEUTRAL}">{escape(empty_text)}</text>'
        )
    else:
        path = [f"M{x(ordered[0].at):.1f},{y(ordered[0].score):.1f}"]
        for cur in ordered[1:]:
            path.append(f"H{x(cur.at):.1f}V{y(cur.score):.1f}")
        path.append(f"H{x(end):.1f}")
        parts.append(f'<path d="{"".join(path)}" fill="none" stroke="#24292f" stroke-width="1.5"/>')
        for p in ordered:
            colour = BAND_COLOURS.get(p.band or "", NEUTRAL)
            parts.append(
                f'<circle cx="{x(p.at):.1f}" cy="{y(p.score):.1f}" r="3" fill="{colour}">'
                f"<title>{p.at.date().isoformat()}: {p.score:.0f}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class NpsBar:
    label: str
    promoters: int
    passives: int
    detractors: int
    nps: float | None


def nps_chart(bars: Sequence[NpsBar], *, label: str, width: int = 640, height: int = 220) -> str:
    """Stacked answer counts per period (detractor / passive / promoter) with the NPS written above."""
    left, top, bottom = 8, 20, 24
    plot_h = height - top - bottom
    slot = (width - 2 * left) / max(len(bars), 1)
    most = max((b.promoters + b.passives + b.detractors for b in bars), default=0) or 1
    colours = (("detractors", BAND_COLOURS["action_required"]), ("passives", "#bf8700"), ("promoters", "#1a7f37"))
    parts = [
        f'<svg class="chart" width="100%" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
    ]
    for i, bar in enumerate(bars):
        bx = left + i * slot + slot * 0.15
        bw = slot * 0.7
        base = top + plot_h
        for field, colour in colours:
            count = getattr(bar, field)
            h = plot_h * count / most
            if h:
                parts.append(
                    f'<rect x="{bx:.1f}" y="{base - h:.1f}" width="{bw:.1f}" height="{h:.1f}" fill="{colour}">'
                    f"<title>{escape(bar.label)} {field}: {count}</title></rect>"
                )
            base -= h
        nps = "–" if bar.nps is None else f"{bar.nps:+.0f}"
        parts.append(
            f'<text x="{bx + bw / 2:.1f}" y="{base - 4:.1f}" text-anchor="middle" font-size="11">{nps}</text>'
            f'<text x="{bx + bw / 2:.1f}" y="{height - 6}" text-anchor="middle" font-size="10" '
            f'fill="{NEUTRAL}">{escape(bar.label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class BandColumn:
    label: str  # the month, YYYY-MM
    values: dict[str, float]  # band (or "unscored") -> ARR or accounts


def band_columns_chart(
    columns: Sequence[BandColumn],
    *,
    bands: Sequence[str],
    label: str,
    names: Mapping[str, str] | None = None,
    width: int = 960,
    height: int = 200,
) -> str:
    """Stacked columns per month, one segment per band (worst at the bottom), the total above;
    every segment has a title naming its band and figure (band is never colour alone)."""
    left, top, bottom = 8, 20, 24
    plot_h = height - top - bottom
    slot = (width - 2 * left) / max(len(columns), 1)
    most = max((sum(c.values.values()) for c in columns), default=0) or 1
    parts = [
        f'<svg class="chart" width="100%" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
    ]
    for i, column in enumerate(columns):
        bx, bw = left + i * slot + slot * 0.15, slot * 0.7
        base: float = top + plot_h
        for band in reversed(bands):
            value = column.values.get(band, 0)
            h = plot_h * value / most
            if h:
                parts.append(
                    f'<rect x="{bx:.1f}" y="{base - h:.1f}" width="{bw:.1f}" height="{h:.1f}" '
                    f'fill="{BAND_COLOURS.get(band, NEUTRAL)}"><title>{escape(column.label)} {escape((names or {}).get(band, band))}: '
                    f"{_short(value)}</title></rect>"
                )
            base -= h
        parts.append(
            f'<text x="{bx + bw / 2:.1f}" y="{base - 4:.1f}" text-anchor="middle" font-size="11">'
            f"{_short(sum(column.values.values()))}</text>"
            f'<text x="{bx + bw / 2:.1f}" y="{height - 6}" text-anchor="middle" font-size="10" '
            f'fill="{NEUTRAL}">{escape(column.label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _short(value: float) -> str:
    """1234567 -> 1.2M, 45600 -> 45.6k: a figure that fits above a column."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}{suffix}"
    return f"{value:.0f}"
