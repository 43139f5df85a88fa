"""One progress bar for a whole job. The engine reports each stage's own fraction (the model
from 0 to 1, then the edges from 0 to 1, ...); shown as they come, the bar would sit at 0 %
and jump. Here each stage owns a span of the bar, in the order the engine runs them, and the
bar never goes back."""

from __future__ import annotations

# (stage, weight): roughly each stage's share of a job's time. A stage that does not happen
# (no download, no refinement) is skipped over.
REMOVE_STAGES = (("start", 1), ("load", 1), ("download", 8), ("inference", 6), ("upsample", 1),
                 ("refine", 4), ("foreground", 1))  # fmt: skip
REFINE_STAGES = (("start", 1), ("load", 1), ("refine", 8), ("foreground", 1))


class Tracker:
    """Turns (stage, fraction of that stage) into the fraction of the whole job done."""

    def __init__(self, stages: tuple = REMOVE_STAGES) -> None:
        total = float(sum(weight for _, weight in stages))
        self.spans: dict = {}
        start = 0.0
        for stage, weight in stages:
            self.spans[stage] = (start / total, (start + weight) / total)
            start += weight
        self.value = 0.0

    def __call__(self, stage: str, fraction: float) -> float:
        span = self.spans.get(stage)
        if span is not None:
            low, high = span
            self.value = max(self.value, low + (high - low) * min(1.0, max(0.0, float(fraction))))
        return self.value
