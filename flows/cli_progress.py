"""How `tessera` shows a run's progress: a bar redrawn in place on a terminal, plain lines elsewhere."""
from __future__ import annotations

import os
import shutil
import sys
import threading
from typing import TextIO

from pipeline.progress import Count, GenerationStep, Lines, Progress, VariantDone

__all__ = ["TerminalBar", "progress_for"]

CLEAR = "\r\x1b[K"     # back to the start of the line and clear it


class TerminalBar:
    """One status line redrawn in place:

        [#########---------------]  3/8  2.4 variants/min, about 3m10s left  ESP-BLEND-1KG de-DE 9:16

    with the generation step in it while a base clip is made (diffusion backends). Notes and problem
    variants (failed, blocked, held, waiting) are printed above it as lines that stay. Worker threads
    report steps while the flow reports variants: one lock around every write."""

    def __init__(self, stream: TextIO, width: int | None = None, bar_width: int = 24) -> None:
        self.stream, self.width, self.bar_width = stream, width, bar_width
        self.count: Count | None = None
        self.last = ""              # the last variant, or the generation step now running
        self.drawn = False
        self.lock = threading.Lock()

    def note(self, text: str) -> None:
        with self.lock:
            self._above(text)

    def planned(self, count: Count) -> None:
        with self.lock:
            self.count, self.last = count, f"{count.renders} to render"
            self._draw()

    def variant(self, event: VariantDone) -> None:
        with self.lock:
            self.count = event.count
            self.last = (f"{event.status} " if event.status else "") + event.what
            if event.problem:
                self.stream.write(CLEAR + event.line() + "\n")
            self._draw()

    def step(self, event: GenerationStep) -> None:
        with self.lock:
            self.last = event.line()
            self._draw()

    def close(self) -> None:
        """End the status line (the summary follows on a line of its own)."""
        with self.lock:
            if self.drawn:
                self.stream.write("\n")
                self.stream.flush()
                self.drawn = False

    def line(self) -> str:
        """The status line as drawn, cut to the terminal's width (a wrapped line could not be redrawn)."""
        if self.count is None:
            text = self.last
        else:
            c = self.count
            filled = self.bar_width * c.done // c.total if c.total else self.bar_width
            bar = "#" * filled + "-" * (self.bar_width - filled)
            digits = len(str(c.total))
            text = f"[{bar}] {c.done:>{digits}}/{c.total}  {c.rate_and_time_left()}  {self.last}"
        width = self.width or shutil.get_terminal_size(fallback=(80, 24)).columns
        return text[:max(width - 1, 10)]

    def _above(self, text: str) -> None:
        self.stream.write(CLEAR + text + "\n")
        if self.drawn:
            self.stream.write(self.line())
        self.stream.flush()

    def _draw(self) -> None:
        self.stream.write(CLEAR + self.line())
        self.stream.flush()
        self.drawn = True


def progress_for(*, as_json: bool, stream: TextIO | None = None) -> Progress:
    """A bar when both standard output and the progress stream (stderr) are terminals and the output is
    not --json; otherwise plain lines (a pipe, a file, a log, TERM=dumb)."""
    stream = stream or sys.stderr
    terminal = (not as_json and sys.stdout.isatty() and stream.isatty()
                and os.environ.get("TERM", "") not in ("", "dumb"))
    if terminal:
        return TerminalBar(stream)

    def write(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()
    return Lines(write)
