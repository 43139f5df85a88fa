"""One progress bar for a whole job. The engine reports each stage's own fraction (the model
from 0 to 1, then the edges from 0 to 1, ...); shown as they come, the bar would sit at 0 %
and jump. Here each stage owns a span of the bar, in the order the engine runs them, and the
bar never goes back."""

from __future__ import annotations

# (stage, weight): roughly each stage's share of a job's time, in the engine's order.
REMOVE_STAGES = (("start", 1), ("load", 1), ("download", 8), ("inference", 6), ("upsample", 1),
                 ("refine", 4), ("foreground", 1))  # fmt: skip
REFINE_STAGES = (("start", 1), ("load", 1), ("refine", 8), ("foreground", 1))


class Tracker:
    """Turns (stage, fraction of that stage) into the fraction of the whole job done. On
    entering a stage, what is left of the bar is shared by it and the stages after it, by
    weight: a stage that never came (no download) leaves no gap."""

    def __init__(self, stages: tuple = REMOVE_STAGES) -> None:
        self.stages = tuple(stages)
        self.order = [name for name, _ in self.stages]
        self.current: str | None = None
        self.span = (0.0, 0.0)
        self.value = 0.0

    def __call__(self, stage: str, fraction: float) -> float:
        if stage not in self.order:
            return self.value
        index = self.order.index(stage)
        if stage != self.current:
            if self.current is not None and index < self.order.index(self.current):
                return self.value  # a late message from a stage already left
            rest = self.stages[index:]
            share = (1.0 - self.value) * rest[0][1] / float(sum(weight for _, weight in rest))
            self.current, self.span = stage, (self.value, self.value + share)
        low, high = self.span
        self.value = max(self.value, low + (high - low) * min(1.0, max(0.0, float(fraction))))
        return self.value
