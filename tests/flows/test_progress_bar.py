"""The progress a person sees: a bar redrawn in place on a terminal, plain lines anywhere else."""
from __future__ import annotations

import io

from flows.cli_progress import CLEAR, TerminalBar, progress_for
from pipeline.progress import Count, GenerationStep, Lines, VariantDone, as_progress


def test_the_bar_is_redrawn_in_place_with_rate_and_time_left_and_problems_stay_above_it():
    out = io.StringIO()
    bar = TerminalBar(out, width=120, bar_width=10)
    bar.note("4 variants planned: 4 to render, 0 unchanged")
    bar.planned(Count(0, 4, 0, 4, 0.0))
    bar.step(GenerationStep("ESP-BLEND-1KG", take=1, takes=2, step=3, steps=30))
    bar.variant(VariantDone(Count(1, 4, 1, 4, 30.0), "rendered", "ESP-BLEND-1KG de-DE 9:16"))
    bar.variant(VariantDone(Count(2, 4, 2, 4, 60.0), "failed", "ESP-BLEND-1KG zh-CN 9:16", "OSError: disk full"))
    bar.note("retired 1 assets no longer in the catalog (files kept)")
    bar.close()
    assert out.getvalue().split(CLEAR) == [
        "",
        "4 variants planned: 4 to render, 0 unchanged\n",
        "[----------] 0/4  rate and time left after the first variant  4 to render",
        "[----------] 0/4  rate and time left after the first variant  ESP-BLEND-1KG: generating take 1/2: step 3/30",
        "[##--------] 1/4  2.0 variants/min, about 1m30s left  rendered ESP-BLEND-1KG de-DE 9:16",
        # a problem is a line of its own that stays, then the bar again below it
        "[2/4] failed   ESP-BLEND-1KG zh-CN 9:16: OSError: disk full  (2.0 variants/min, about 1m00s left)\n",
        "[#####-----] 2/4  2.0 variants/min, about 1m00s left  failed ESP-BLEND-1KG zh-CN 9:16",
        "retired 1 assets no longer in the catalog (files kept)\n"
        "[#####-----] 2/4  2.0 variants/min, about 1m00s left  failed ESP-BLEND-1KG zh-CN 9:16\n",
    ]


def test_the_bar_never_wraps_a_narrow_terminal():
    out = io.StringIO()
    bar = TerminalBar(out, width=40, bar_width=10)
    bar.variant(VariantDone(Count(1, 100, 1, 100, 6.0), "rendered", "A-VERY-LONG-SKU-NAME de-DE 9:16"))
    assert bar.line() == "[----------]   1/100  10.0 variants/min"
    assert len(bar.line()) == 39


def test_plain_lines_off_a_terminal_and_with_json(monkeypatch):
    for as_json in (False, True):
        out = io.StringIO()                      # not a terminal
        progress = progress_for(as_json=as_json, stream=out)
        assert isinstance(progress, Lines)
        progress.note("2 variants planned: 2 to render, 0 unchanged")
        progress.planned(Count(0, 2, 0, 2, 0.0))                  # the note said it: no line
        progress.variant(VariantDone(Count(1, 2, 1, 2, 10.0), "rendered", "ESP-BLEND-1KG de-DE 9:16"))
        for step in range(1, 31):
            progress.step(GenerationStep("ESP-BLEND-1KG", 1, 1, step, 30))
        lines = out.getvalue().splitlines()
        assert CLEAR not in out.getvalue()
        assert lines[:2] == ["2 variants planned: 2 to render, 0 unchanged",
                             "[1/2] rendered ESP-BLEND-1KG de-DE 9:16  (6.0 variants/min, about 0m10s left)"]
        # a log gets every third step of 30, not one line per step
        assert lines[2:] == [f"ESP-BLEND-1KG: generating take 1/1: step {s}/30" for s in range(3, 31, 3)]


def test_a_function_of_one_line_is_plain_lines():
    seen: list[str] = []
    progress = as_progress(seen.append)
    progress.variant(VariantDone(Count(2, 2, 2, 2, 60.0), "blocked", "X en-US 1:1", "a watched face"))
    assert seen == ["[2/2] blocked  X en-US 1:1: a watched face  (2.0 variants/min, about 0m00s left)"]
