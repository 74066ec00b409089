"""What a run reports while it works: notes, one event per finished variant, generation steps.

The steps of a render call a Progress; each door decides how it is shown: plain lines (a log,
a pipe, `--json`: `Lines`) or a bar redrawn in place on a terminal (flows/cli_progress.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Count", "GenerationStep", "Lines", "Progress", "VariantDone", "as_progress", "rate_and_time_left"]


@dataclass(frozen=True)
class Count:
    """How far a run is: `done` of `total` variants accounted for (skipped and waiting ones included);
    the rate from the `finished` of the `renders` this run makes, in `seconds` since they started."""
    done: int
    total: int
    finished: int
    renders: int
    seconds: float

    def rate_and_time_left(self) -> str:
        return rate_and_time_left(self.finished, self.renders, self.seconds)


def rate_and_time_left(finished: int, total: int, seconds: float) -> str:
    """"2.4 variants/min, about 3m10s left": the rate so far, and the rest at that rate."""
    if not finished:
        return "rate and time left after the first variant"
    per_min = 60.0 * finished / seconds if seconds > 0 else 0.0
    left = round((total - finished) * seconds / finished)
    return f"{per_min:.1f} variants/min, about {left // 60}m{left % 60:02d}s left"


@dataclass(frozen=True)
class VariantDone:
    """A variant finished (rendered, blocked, held, failed), or, for a nightly run, the count moved."""
    count: Count
    status: str          # an Outcome value; "" when only the count moved
    what: str            # "ESP-BLEND-1KG de-DE 9:16"
    reason: str = ""

    @property
    def problem(self) -> bool:
        """Anything but a plain render is a line a person should still see after the run."""
        return self.status not in ("rendered", "")

    def line(self) -> str:
        head = f"[{self.count.done}/{self.count.total}] " + (f"{self.status:8} " if self.status else "")
        return (head + self.what + (f": {self.reason}" if self.reason else "")
                + f"  ({self.count.rate_and_time_left()})")


@dataclass(frozen=True)
class GenerationStep:
    """One denoising step of a base clip's generation (diffusion backends only)."""
    sku: str
    take: int            # 1-based, of `takes`
    takes: int
    step: int            # 1-based, of `steps`
    steps: int

    def line(self) -> str:
        return f"{self.sku}: generating take {self.take}/{self.takes}: step {self.step}/{self.steps}"


class Progress(Protocol):
    def note(self, text: str) -> None:
        """A line that stays (the plan, a retirement)."""
        ...

    def planned(self, count: Count) -> None:
        """The plan is made: `count.done` are skipped already, `count.renders` are to render."""
        ...

    def variant(self, event: VariantDone) -> None:
        ...

    def step(self, event: GenerationStep) -> None:
        ...


class Lines:
    """Plain lines through `write` (print, a logger): every note and variant, and a generation's
    steps about every tenth of it (a log gets no line per step)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    def note(self, text: str) -> None:
        self.write(text)

    def planned(self, count: Count) -> None:
        """The plan's note says it already."""

    def variant(self, event: VariantDone) -> None:
        self.write(event.line())

    def step(self, event: GenerationStep) -> None:
        if event.step == event.steps or event.step % max(1, event.steps // 10) == 0:
            self.write(event.line())


def as_progress(progress: Progress | Callable[[str], None] | None) -> Progress:
    """A Progress as given, or plain lines through a function of one line (print, logger.info)."""
    if progress is None:
        return Lines(lambda line: None)
    if hasattr(progress, "variant"):
        return progress  # type: ignore[return-value]
    return Lines(progress)  # type: ignore[arg-type]
