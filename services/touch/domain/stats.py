"""The statistics of the effectiveness report: plain, small and hand-checkable. Pure.

- A rate's interval is Wilson's score interval (it stays inside 0..1 and behaves with few
  successes, where the textbook p ± z·se does not).
- A difference of two rates uses Newcombe's method 10: the two Wilson intervals combined
  (Newcombe 1998, "Interval estimation for the difference between independent proportions").
- A difference of two means (NPS change) uses the normal approximation with each group's own
  variance (Welch's standard error, z instead of t): fine for the group sizes the report shows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054  # the two-sided 95 % normal quantile


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def wilson(successes: int, n: int, *, z: float = Z95) -> Interval | None:
    """Wilson's score interval for ``successes`` out of ``n``; None for n = 0."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within 0..{n}, got {successes}")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def rate_difference(k1: int, n1: int, k2: int, n2: int, *, z: float = Z95) -> Interval | None:
    """Newcombe's interval for p1 - p2 (k1/n1 - k2/n2); None when a group is empty."""
    w1, w2 = wilson(k1, n1, z=z), wilson(k2, n2, z=z)
    if w1 is None or w2 is None:
        return None
    p1, p2 = k1 / n1, k2 / n2
    d = p1 - p2
    low = d - math.sqrt((p1 - w1.low) ** 2 + (w2.high - p2) ** 2)
    high = d + math.sqrt((w1.high - p1) ** 2 + (p2 - w2.low) ** 2)
    return Interval(low, high)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def variance(values: Sequence[float]) -> float | None:
    """The sample variance (n - 1); None below two values."""
    if len(values) < 2:
        return None
    m = sum(values) / len(values)
    return sum((v - m) ** 2 for v in values) / (len(values) - 1)


def mean_difference(a: Sequence[float], b: Sequence[float], *, z: float = Z95) -> Interval | None:
    """An interval for mean(a) - mean(b) with Welch's standard error; None below two values each."""
    va, vb = variance(a), variance(b)
    if va is None or vb is None:
        return None
    d = sum(a) / len(a) - sum(b) / len(b)
    half = z * math.sqrt(va / len(a) + vb / len(b))
    return Interval(d - half, d + half)
