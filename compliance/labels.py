"""Is the required visible label really in the frames? Checked on decoded frames, without OCR.

We know the exact text and font of the label, so we render it ourselves at a range of
sizes and search the required corner of sampled frames with normalised cross-correlation
(NCC) on luminance. NCC ignores brightness and contrast, and we take |NCC| so white-on-dark
and dark-on-light labels both match. A coarse size grid finds candidates, a fine grid of whole
font sizes around them measures the height, and each strip of the label must match on its
own (a text sharing only "AI" with the label fails). Once found, the label is tracked at its
place and size; frames between two samples that disagree are checked one by one, so
durations are exact to the frame.

"Text height" everywhere here is the ink height of the whole label text (top of the highest
glyph to the bottom of the lowest), as a fraction of the frame's short side.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

import numpy as np
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont
from scipy import fft as sfft

from compliance.rules import LabelRequirement
from foundation.frames import probe, read_clip

LabelStatus = Literal["ok", "missing", "too_small", "too_short", "not_applicable"]

SAMPLES_PER_SECOND = 4
# verified |NCC| at or above this = label present. Calibrated in
# tests/compliance/test_visible_labels.py on H.264-encoded photos (Latin, CJK, Hangul,
# Devanagari labels): labels on a plate (what compose draws) score >= 0.85; absent labels and
# other texts in the corner ("AI修改" for "AI生成") <= 0.41. An outline without a plate on a
# light or busy background scores 0.5-0.8: it may read "missing" (fail closed).
PRESENT_SCORE = 0.55
# search range, relative to the required height: much smaller than COARSE_MIN is "missing"
# (tiny templates match random texture)
COARSE_MIN, COARSE_MAX, COARSE_STEP = 0.7, 2.5, 1.1
FINE_STEPS = np.geomspace(COARSE_STEP**-0.6, COARSE_STEP**0.6, 9)
# coarse hits refined per frame
REFINE_CANDIDATES = 3
# the match is verified strip by strip (see _Matcher._verify)
VERIFY_STRIPS = 3
# the label is matched at a working scale where the required height is this many pixels
WORKING_TEXT_PX = 22.0
# measured height may be this much under the minimum (measurement error) before "too_small"
HEIGHT_TOLERANCE = 0.03
# "at the start": first seen no later than this
START_TOLERANCE_S = 0.25
# corner searched: this share of the frame height at the named edge, full width; the label's
# centre must lie in the named half (a long label in a portrait frame spans most of the width)
REGION_HEIGHT = 0.30


class LabelFontError(ValueError):
    """The label font cannot render the label text."""


@dataclass(frozen=True)
class LabelCheck:
    status: LabelStatus
    detail: str
    score: float = 0.0  # best verified match score seen (see PRESENT_SCORE)
    text_height_frac: float | None = None  # measured ink height / short side, median over sightings
    first_seen_s: float | None = None
    shown_s: float = 0.0  # length of the run that counts (first run if at_start, else longest)


# ---------------------------------------------------------------- fonts


def _font(font_path: Path, face_index: int, size: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path), size=size, index=face_index)


def check_glyphs(text: str, font_path: Path, face_index: int = 0) -> None:
    """Raise LabelFontError naming the characters the font has no glyph for."""
    with TTFont(str(font_path), fontNumber=face_index, lazy=True) as tt:
        cmap = tt.getBestCmap() or {}
    missing = sorted({ch for ch in text if not ch.isspace() and ord(ch) not in cmap})
    if missing:
        raise LabelFontError(f"{Path(font_path).name}#{face_index} has no glyph for {''.join(missing)!r} in label {text!r}")


def _ink_ratio(text: str, font_path: Path, face_index: int) -> float:
    """Ink height of `text` per pixel of font size."""
    box = _font(font_path, face_index, 200).getbbox(text)
    if box[3] <= box[1]:
        raise LabelFontError(f"label {text!r} renders no ink with {Path(font_path).name}")
    return (box[3] - box[1]) / 200


def label_font_px(requirement: LabelRequirement, frame_size: tuple[int, int], *, font_path: Path, face_index: int = 0) -> int:
    """Smallest font size (px) whose label ink height meets the requirement on a (w, h) frame.

    Compose uses this so that burn-in and check agree on what "text height" means.
    """
    check_glyphs(requirement.text, font_path, face_index)
    need = requirement.min_height_frac * min(frame_size)
    # start from the large-size ratio; hinting makes small sizes differ a few %, so walk both ways
    size = max(1, int(np.ceil(need / _ink_ratio(requirement.text, font_path, face_index))))
    while _ink_height(requirement.text, font_path, face_index, size) < need:
        size += 1
    while size > 1 and _ink_height(requirement.text, font_path, face_index, size - 1) >= need:
        size -= 1
    return size


def _ink_height(text: str, font_path: Path, face_index: int, size: float) -> int:
    box = _font(font_path, face_index, size).getbbox(text)
    return box[3] - box[1]


# ---------------------------------------------------------------- matching


@dataclass(frozen=True)
class _Template:
    font_px: int
    rel: float  # ink height relative to the required height
    ink_frac: float  # actual ink height of this rendering / short side
    pixels: np.ndarray  # working-scale luminance, 0..1


@dataclass(frozen=True)
class _Match:
    score: float
    template: _Template
    y: int
    x: int


class _Matcher:
    def __init__(
        self, text: str, font_path: Path, face_index: int, short_side: int, min_height_frac: float, side: str
    ) -> None:
        self.text, self.font_path, self.face_index = text, font_path, face_index
        self.side = side  # "left" | "right": half of the band the label's centre must be in
        self.short = short_side
        self.need_px = min_height_frac * short_side
        self.scale = min(1.0, WORKING_TEXT_PX / self.need_px)
        self.ratio = _ink_ratio(text, font_path, face_index)
        self._cache: dict[int, _Template] = {}
        self._inks: dict[int, int] = {}
        n = int(np.floor(np.log(COARSE_MAX / COARSE_MIN) / np.log(COARSE_STEP))) + 1
        by_px = {t.font_px: t for t in (self.template(COARSE_MIN * COARSE_STEP**i) for i in range(n))}
        self.coarse = list(by_px.values())
        self._fft_shape: tuple[int, int] | None = None
        self._coarse_fft: list[tuple[_Template, np.ndarray, float]] = []

    def template(self, rel: float) -> _Template:
        """The label with ink nearest `rel` x the required height. Rendered at a whole font size
        (as renderers do; hinting makes small sizes taller than a straight ratio), at full
        resolution, then scaled the way frames are scaled."""
        guess = max(1, round(rel * self.need_px / self.ratio))
        px = min(range(max(1, guess - 3), guess + 4), key=lambda p: abs(np.log(self._ink(p) / (rel * self.need_px))))
        if px not in self._cache:
            font = _font(self.font_path, self.face_index, px)
            left, top, right, bottom = font.getbbox(self.text)
            img = Image.new("L", (right - left, bottom - top))
            ImageDraw.Draw(img).text((-left, -top), self.text, font=font, fill=255)
            w, h = max(1, round(img.width * self.scale)), max(1, round(img.height * self.scale))
            pixels = np.asarray(img.resize((w, h), Image.Resampling.BOX), np.float32) / 255.0
            self._cache[px] = _Template(font_px=px, rel=(bottom - top) / self.need_px, ink_frac=(bottom - top) / self.short, pixels=pixels)
        return self._cache[px]

    def _ink(self, px: int) -> int:
        if px not in self._inks:
            self._inks[px] = max(1, _ink_height(self.text, self.font_path, self.face_index, px))
        return self._inks[px]

    def best(self, region: np.ndarray) -> _Match | None:
        """Coarse search over the whole region, then a fine size search around the best hit."""
        if self._fft_shape is None:
            self._prepare(region.shape)
        stats = _WindowStats(region)
        spec = sfft.rfft2(region, self._fft_shape)
        per_size: list[_Match] = []
        for tmpl, tfft, tnorm in self._coarse_fft:
            h, w = tmpl.pixels.shape
            num = sfft.irfft2(spec * tfft, self._fft_shape)[h - 1 : region.shape[0], w - 1 : region.shape[1]]
            ncc = np.abs(num) / (stats.std_sum(h, w) * tnorm)
            mid = (region.shape[1] - w) // 2  # x at which the label's centre is mid-band
            x0 = mid if self.side == "right" else 0
            ncc = ncc[:, mid:] if self.side == "right" else ncc[:, : mid + 1]
            y, x = np.unravel_index(int(np.argmax(ncc)), ncc.shape)
            per_size.append(_Match(float(ncc[y, x]), tmpl, int(y), int(x) + x0))
        # a long label a few % off in size matches its own spot only weakly, so the top
        # few coarse hits are refined, not just the first
        best: _Match | None = None
        tried: list[_Match] = []
        for coarse in sorted(per_size, key=lambda m: m.score, reverse=True):
            if len(tried) == REFINE_CANDIDATES:
                break
            if any(_same_spot(coarse, t) for t in tried):
                continue  # neighbouring sizes peak at the same spot: one refinement covers them
            tried.append(coarse)
            refined = self._refine(region, coarse)
            verified = _Match(self._verify(region, refined), refined.template, refined.y, refined.x)
            if best is None or verified.score > best.score:
                best = verified
        return best

    def _prepare(self, shape: tuple[int, ...]) -> None:
        self._fft_shape = (sfft.next_fast_len(shape[0], real=True), sfft.next_fast_len(shape[1], real=True))
        for tmpl in self.coarse:
            t = tmpl.pixels
            if t.shape[0] > shape[0] or t.shape[1] > shape[1]:
                continue  # larger than the corner region: cannot be "in the corner"
            zero_mean = t - t.mean()
            norm = float(np.sqrt((zero_mean**2).sum()))
            if norm > 0:
                self._coarse_fft.append((tmpl, sfft.rfft2(zero_mean[::-1, ::-1], self._fft_shape), norm))
        if not self._coarse_fft:
            raise ValueError(f"label {self.text!r} does not fit the {shape[1]}x{shape[0]} corner region at any size")

    def _refine(self, region: np.ndarray, coarse: _Match) -> _Match:
        best = coarse
        h, w = coarse.template.pixels.shape
        pad = max(3, int(0.3 * h))
        sizes = {self.template(coarse.template.rel * step).font_px for step in FINE_STEPS}
        for px in sorted(sizes):
            tmpl = self._cache[px]
            th, tw = tmpl.pixels.shape
            y0, x0 = max(0, coarse.y - pad), max(0, coarse.x - pad)
            patch = region[y0 : coarse.y + max(h, th) + pad, x0 : coarse.x + max(w, tw) + pad]
            m = _local_best(patch, tmpl)
            if m is not None and m.score > best.score:
                best = _Match(m.score, tmpl, y0 + m.y, x0 + m.x)
        return best

    def _verify(self, region: np.ndarray, m: _Match) -> float:
        """Score = the lowest NCC of the whole label and of each of its vertical strips, all
        with the whole label's polarity.

        A text that only shares a part with the label ("AI修改" vs "AI生成") matches that part
        well and the rest badly; the whole-label NCC alone would average the two.
        """
        t = m.template.pixels
        h, w = t.shape
        window = region[m.y : m.y + h, m.x : m.x + w]
        whole = _ncc_at(window, t)
        sign = 1.0 if whole >= 0 else -1.0
        scores = [abs(whole)]
        for cols in np.array_split(np.arange(w), VERIFY_STRIPS):
            if len(cols) >= 2:
                scores.append(sign * _ncc_at(window[:, cols[0] : cols[-1] + 1], t[:, cols[0] : cols[-1] + 1]))
        return min(scores)

    def track(self, region: np.ndarray, at: _Match) -> _Match | None:
        """`at`'s label searched near its last place and size only (cheap); verified score."""
        h, w = at.template.pixels.shape
        pad = max(3, int(0.3 * h))
        y0, x0 = max(0, at.y - pad), max(0, at.x - pad)
        m = _local_best(region[y0 : at.y + h + pad, x0 : at.x + w + pad], at.template)
        if m is None:
            return None
        return _Match(self._verify(region, _Match(m.score, m.template, y0 + m.y, x0 + m.x)), m.template, y0 + m.y, x0 + m.x)


class _WindowStats:
    """sqrt(sum of squared deviations) of every h x w window, from integral images."""

    # windows flatter than this std (2 grey levels) cannot hold a label: keeps NCC bounded
    MIN_STD = 2 / 255

    def __init__(self, img: np.ndarray) -> None:
        # float64: the variance is a difference of large sums
        h, w = img.shape
        self.s1 = np.zeros((h + 1, w + 1))
        self.s2 = np.zeros((h + 1, w + 1))
        img64 = img.astype(np.float64)
        np.cumsum(img64, 0, out=self.s1[1:, 1:])
        np.cumsum(self.s1[1:, 1:], 1, out=self.s1[1:, 1:])
        np.cumsum(img64 * img64, 0, out=self.s2[1:, 1:])
        np.cumsum(self.s2[1:, 1:], 1, out=self.s2[1:, 1:])

    def std_sum(self, h: int, w: int) -> np.ndarray:
        def win(s: np.ndarray) -> np.ndarray:
            return s[h:, w:] - s[:-h, w:] - s[h:, :-w] + s[:-h, :-w]

        n = h * w
        var = win(self.s2) - win(self.s1) ** 2 / n
        return np.sqrt(np.maximum(var, n * self.MIN_STD**2))


def _same_spot(a: _Match, b: _Match) -> bool:
    h = min(a.template.pixels.shape[0], b.template.pixels.shape[0])
    return abs(a.y - b.y) <= h // 2 and abs(a.x - b.x) <= h // 2 and 0.85 < a.template.rel / b.template.rel < 1.18


def _ncc_at(window: np.ndarray, t: np.ndarray) -> float:
    """Signed NCC of two same-shape arrays (flat windows count as no match)."""
    a, b = window - window.mean(), t - t.mean()
    na, nb = float(np.sqrt((a * a).sum())), float(np.sqrt((b * b).sum()))
    floor = np.sqrt(a.size) * _WindowStats.MIN_STD
    if nb == 0:
        return 0.0
    return float((a * b).sum()) / (max(na, floor) * nb)


def _local_best(patch: np.ndarray, tmpl: _Template) -> _Match | None:
    t = tmpl.pixels
    h, w = t.shape
    if patch.shape[0] < h or patch.shape[1] < w:
        return None
    zero_mean = t - t.mean()
    norm = float(np.sqrt((zero_mean**2).sum()))
    if norm == 0:
        return None
    shape = (sfft.next_fast_len(patch.shape[0], real=True), sfft.next_fast_len(patch.shape[1], real=True))
    num = sfft.irfft2(sfft.rfft2(patch, shape) * sfft.rfft2(zero_mean[::-1, ::-1], shape), shape)
    num = num[h - 1 : patch.shape[0], w - 1 : patch.shape[1]]
    ncc = np.abs(num) / (_WindowStats(patch).std_sum(h, w) * norm)
    y, x = np.unravel_index(int(np.argmax(ncc)), ncc.shape)
    return _Match(float(ncc[y, x]), tmpl, int(y), int(x))


# ---------------------------------------------------------------- the check


def _corner(frame: np.ndarray, position: str, scale: float) -> np.ndarray:
    """Luminance of the band at the edge named by `position`, at working scale, 0..1."""
    fh, fw = frame.shape[:2]
    rh = round(fh * REGION_HEIGHT)
    band = frame[:rh] if position.startswith("top") else frame[fh - rh :]
    img = Image.fromarray(np.ascontiguousarray(band)).convert("L")
    if scale < 1.0:
        img = img.resize((max(1, round(fw * scale)), max(1, round(rh * scale))), Image.Resampling.BOX)
    return np.asarray(img, np.float32) / 255.0


def check_visible_label(
    frames: Iterable[np.ndarray] | Path | str,
    fps: float | None,
    requirement: LabelRequirement | None,
    *,
    font_path: Path,
    face_index: int = 0,
) -> LabelCheck:
    """Verify that `requirement`'s label is in the frames: right corner, height, start and duration.

    frames: RGB uint8 frames, or a video path (decoded with the bundled ffmpeg; fps may
    then be None and is read from the file). requirement None -> "not_applicable".
    """
    if requirement is None:
        return LabelCheck("not_applicable", "no visible label is required")
    # 1. inputs
    if isinstance(frames, (str, Path)):
        path = Path(frames)
        if fps is None:
            fps = probe(path)[2]
        frames = read_clip(path)
    if fps is None or not fps > 0:
        raise ValueError(f"fps must be > 0 for frame input, got {fps!r}")
    check_glyphs(requirement.text, font_path, face_index)
    step = max(1, round(fps / SAMPLES_PER_SECOND))

    # 2. scan: every `step`-th frame is matched; frames in between are kept (small, working
    #    scale) so a change between two samples can be placed on the exact frame
    matcher: _Matcher | None = None
    flags: list[bool] = []
    sightings: list[_Match] = []
    best_score = 0.0
    pending: deque[np.ndarray] = deque()
    last: _Match | None = None  # match at the previous sample, if present there
    size: tuple[int, ...] | None = None
    done = False  # an at-start label whose first run has ended: later frames cannot change the verdict
    total = 0  # frames in the clip (all decoded, also after `done`)
    for i, frame in enumerate(frames):
        total = i + 1
        if done:
            continue  # still drain the iterator (a decoder behind it must finish)
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame {i}: expected RGB (h, w, 3), got shape {frame.shape}")
        if size is None:
            size = frame.shape[:2]
            side = requirement.position.split("-")[1]
            matcher = _Matcher(requirement.text, font_path, face_index, min(size), requirement.min_height_frac, side)
        elif frame.shape[:2] != size:
            raise ValueError(f"frame {i}: size {frame.shape[1]}x{frame.shape[0]} differs from frame 0 {size[1]}x{size[0]}")
        region = _corner(frame, requirement.position, matcher.scale)
        if i % step:
            pending.append(region)
            continue
        m = matcher.track(region, last) if last is not None else None
        if m is None or m.score < PRESENT_SCORE:
            m = matcher.best(region)  # not where it was: search the whole corner at every size
        score = 0.0 if m is None else m.score
        best_score = max(best_score, score)
        present = score >= PRESENT_SCORE
        if present:
            sightings.append(m)
        flags.extend(_between(matcher, pending, last, m if present else None))
        flags.append(present)
        pending.clear()
        done = requirement.at_start and not present and any(flags)
        last = m if present else None
    if size is None:
        return LabelCheck("missing", "no frames decoded: cannot confirm the label")
    flags.extend(_between(matcher, pending, last, None))

    # 3. verdict
    return _verdict(requirement, flags, fps, sightings, best_score, total)


def _between(matcher: _Matcher, pending: deque, before: _Match | None, after: _Match | None) -> list[bool]:
    """Present/absent for frames between two samples; only checked when the samples disagree."""
    if (before is None) == (after is None):
        return [before is not None] * len(pending)
    ref = before if before is not None else after
    out = []
    for region in pending:
        m = matcher.track(region, ref)
        out.append(m is not None and m.score >= PRESENT_SCORE)
    return out


def _verdict(req: LabelRequirement, flags: list[bool], fps: float, sightings: list[_Match], best_score: float,
             total: int | None = None) -> LabelCheck:
    runs = _runs(flags)
    what = f"label {req.text!r} ({req.rule_id}) at {req.position}"
    if not runs:
        return LabelCheck(
            "missing",
            f"{what} not found (best match {best_score:.2f} < {PRESENT_SCORE})",
            score=best_score,
        )
    height = float(np.median([m.template.ink_frac for m in sightings]))
    first_s = runs[0][0] / fps
    run = runs[0] if req.at_start else max(runs, key=lambda r: r[1] - r[0])
    shown_s = (run[1] - run[0]) / fps
    common = dict(score=best_score, text_height_frac=height, first_seen_s=first_s, shown_s=shown_s)
    if req.at_start and first_s > START_TOLERANCE_S:
        return LabelCheck("missing", f"{what} not shown at the start: first seen at {first_s:.2f} s", **common)
    if height < req.min_height_frac * (1 - HEIGHT_TOLERANCE):
        return LabelCheck(
            "too_small",
            f"{what} text height {height:.3f} of the short side < required {req.min_height_frac:.3f}",
            **common,
        )
    total = len(flags) if total is None else total
    if req.whole_duration and (total - run[1]) / fps > START_TOLERANCE_S:
        return LabelCheck("too_short", f"{what} shown {shown_s:.2f} s from the start, then gone; the rule asks for "
                                       f"the whole {total / fps:.2f} s", **common)
    if shown_s + 0.5 / fps < req.min_duration_s:
        where = "from the start" if req.at_start else "continuously"
        return LabelCheck("too_short", f"{what} shown {shown_s:.2f} s {where} < required {req.min_duration_s:.2f} s", **common)
    return LabelCheck(
        "ok",
        f"{what} shown {shown_s:.2f} s from {first_s:.2f} s, text height {height:.3f} of the short side",
        **common,
    )


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """[start, end) frame ranges where flags are True."""
    runs, start = [], None
    for i, f in enumerate(flags + [False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            runs.append((start, i))
            start = None
    return runs
