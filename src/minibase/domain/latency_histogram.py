"""A fixed-bucket latency histogram that keeps each bucket's smallest and largest value,
and nearest-rank percentiles read from it.

The analytics rollups (``store/analytics_rollups.py``) keep one per (day, flow, node)
and per (day, flow) for run times. Buckets are the same everywhere, so histograms of any
days, flows or nodes merge by adding counts and taking the extremes:

* bucket 0: below 1 ms;
* buckets 1 to 35: five per decade from 1 ms to 10,000 s (``[BOUNDS[i-1], BOUNDS[i])``,
  each about 1.58 times as wide as the one before);
* bucket 36: 10,000 s and more.

A percentile is nearest-rank (the smallest value with at least p % of the values at or
below it), as the exact computation over the raw rows is; the rank is located in its
bucket, and the value returned is that bucket's smallest value for the bucket's first
rank, its largest for the last, and in between interpolated linearly by rank. It is
therefore exact when the bucket holds at most two distinct ranks' worth of values (one
or two values), when all its values are equal, or when its values are evenly spaced; in
every case it lies between the smallest and the largest value of that bucket, so within a
factor of 1.585 of the exact percentile (within 1 ms below 1 ms). The maximum is exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

PER_DECADE = 5
DECADES = 7
BOUNDS: tuple[float, ...] = tuple(
    float(f"{10 ** (k / PER_DECADE):.6g}") for k in range(PER_DECADE * DECADES + 1)
)
"""Upper bounds (ms, exclusive) of buckets 0 ... len(BOUNDS) - 1; the last bucket is open."""
BUCKETS = len(BOUNDS) + 1


def bucket_of(value: float) -> int:
    """The bucket a value (ms) falls in (the same rule as the SQL of the rollups)."""
    for i, bound in enumerate(BOUNDS):
        if value < bound:
            return i
    return len(BOUNDS)


def nearest_rank(n: int, pct: int) -> int:
    """The 1-based rank of percentile ``pct`` among ``n`` values (nearest-rank)."""
    return max(1, (n * pct + 99) // 100)


@dataclass(slots=True)
class Histogram:
    """Counts per bucket with each bucket's smallest and largest value."""

    counts: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    lows: list[float | None] = field(default_factory=lambda: [None] * BUCKETS)
    highs: list[float | None] = field(default_factory=lambda: [None] * BUCKETS)

    @classmethod
    def from_columns(cls, values: Sequence[object]) -> Histogram:
        """From ``BUCKETS`` triples laid out as the rollup columns: ``h{i}, lo{i}, hi{i}``."""
        hist = cls()
        for i in range(BUCKETS):
            n, lo, hi = values[3 * i], values[3 * i + 1], values[3 * i + 2]
            hist.counts[i] = int(n or 0)  # type: ignore[call-overload]
            hist.lows[i] = None if lo is None else float(lo)  # type: ignore[arg-type]
            hist.highs[i] = None if hi is None else float(hi)  # type: ignore[arg-type]
        return hist

    @classmethod
    def of(cls, values: Iterable[float]) -> Histogram:
        """The histogram of some values (for tests and checks)."""
        hist = cls()
        for value in values:
            i = bucket_of(value)
            hist.counts[i] += 1
            lo, hi = hist.lows[i], hist.highs[i]
            hist.lows[i] = value if lo is None or value < lo else lo
            hist.highs[i] = value if hi is None or value > hi else hi
        return hist

    @property
    def total(self) -> int:
        return sum(self.counts)

    def merge(self, other: Histogram) -> None:
        """Add ``other``'s values to this one."""
        for i in range(BUCKETS):
            if not other.counts[i]:
                continue
            self.counts[i] += other.counts[i]
            lo, olo = self.lows[i], other.lows[i]
            hi, ohi = self.highs[i], other.highs[i]
            self.lows[i] = olo if lo is None or (olo is not None and olo < lo) else lo
            self.highs[i] = ohi if hi is None or (ohi is not None and ohi > hi) else hi

    def percentile(self, pct: int) -> float | None:
        """Nearest-rank percentile ``pct`` (see the module's docstring); ``None`` if empty."""
        n = self.total
        if not n:
            return None
        rank = nearest_rank(n, pct)
        seen = 0
        for i, count in enumerate(self.counts):
            if seen + count < rank:
                seen += count
                continue
            lo, hi = self.lows[i], self.highs[i]
            assert lo is not None and hi is not None
            position = rank - seen  # 1 ... count
            if position == count:
                return hi
            if position == 1:
                return lo
            return lo + (hi - lo) * (position - 1) / (count - 1)
        return None  # unreachable: the ranks add up to n

    def maximum(self) -> float | None:
        return max((h for h in self.highs if h is not None), default=None)
