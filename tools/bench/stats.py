"""Figures the benchmarks report."""


def percentile(samples, q: float) -> float:
    """The ``q`` quantile (0-1) of ``samples`` by nearest rank; NaN when there are none."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
