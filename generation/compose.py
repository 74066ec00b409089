"""Compose one locale x aspect variant over a base clip and encode it once (H.264, yuv420p, faststart).

Timing of the text layers (frames are counted over the base clip):
- labels (visible disclosures): every frame, from the first one on, top right, each label's ink at
  least as tall as its rule asks (`VariantSpec.label_min_height`, default 5 % of the short side),
  drawn with one font face that has every glyph of the labels (`label_face`), so that the check on
  the decoded frames (compliance.labels) renders the very same glyphs;
- headline and price: every frame;
- captions: in sequence, each for an equal share of the duration;
- CTA: from 60 % of the duration to the end, end-card style, so the viewer meets
  the product before the call to action.

Metadata: `metadata={KEY: VALUE}` is written with `-movflags +faststart+use_metadata_tags` and one
`-metadata KEY=VALUE` per item, so each lands in moov/udta/meta as an mdta key (the China implicit
label `AIGC` lives there); the items are recorded in encoder_json.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import subprocess
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import ffmpeg
import imageio_ffmpeg
import numpy as np
from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, is_currency
from PIL import Image, ImageDraw

from foundation.frames import ClipError, ffmpeg_exe, read_clip, read_frames
from foundation.primitives import atomic_path, canonical_json
from generation.fonts import FontFace, LocaleFont, check_locale_coverage, face_for_labels, font_for_locale, pil_font
from generation.layout import Box, Layout, layout_for
from foundation.records import BaseClip, FrameHook, RenderedVariant, VariantSpec
from generation.sound import AAC_BITRATE, SAMPLE_RATE, AudioBed, fit_bed
from generation.text import TextFitError, draw_block, fit_text

CTA_START = 0.6             # fraction of the duration after which the CTA shows
LABEL_MIN_HEIGHT = 0.05     # default disclosure label text height, fraction of the short side (GB 45438-2025)
# Drawn 6 % taller than the minimum: anti-aliased edge rows and H.264 dim the outermost ink rows, and the
# height measured on the encoded frames is what a checker (and a regulator) sees.
LABEL_MARGIN = 1.06
PLATE_ALPHA = 230           # opacity of the brand-colour plates behind headline, price and captions
LABEL_PLATE = (0, 0, 0, 170)
KEYFRAME_S = 2.0            # longest gap between keyframes, in seconds (short-video upload specs ask for 2 s or less)
LABEL_TEXT = (255, 255, 255, 255)

# Font size bounds per text element, fractions of the short side.
_MAX_SIZE = {"headline": 0.085, "price": 0.08, "cta": 0.065, "captions": 0.055}
_MIN_SIZE = 0.028

# Decoded base clips kept in memory, most recent first, so every variant of a clip (all locales and,
# at the same clip size, all aspect ratios) shares one decode: decoding the lossless clip costs
# about as much CPU as the final encode. 1 GiB holds four 720p or two 1080p 6 s clips at 24 fps.
DECODED_CLIPS_BYTES = 1 << 30


@lru_cache(maxsize=1 << 14)   # a catalog repeats its prices; CLDR formatting costs ~5 ms
def format_price(amount: Decimal, currency: str, locale: str) -> str:
    """A price as the locale writes it (CLDR via Babel), rounded to the currency's minor unit."""
    tag = locale.replace("-", "_")
    try:
        Locale.parse(tag)
    except (UnknownLocaleError, ValueError) as e:
        raise ValueError(f"locale {locale!r}: unknown to Babel ({e})") from None
    if not is_currency(currency):
        raise ValueError(f"currency {currency!r}: not an ISO 4217 code")
    return format_currency(Decimal(amount), currency, locale=tag)


@dataclass(frozen=True)
class Overlay:
    """One pre-rendered text layer: where it goes, its pixels, and the frames it shows on."""
    name: str
    x: int
    y: int
    rgba: np.ndarray        # h x w x 4 uint8, straight alpha
    first: int              # first frame it shows on
    last: int               # frame after the last one it shows on
    font_px: int            # font size used
    text_px: int            # ink height of the text (the smallest one for stacked labels)


@dataclass(frozen=True)
class VariantJob:
    """One variant to render from a shared base clip."""
    spec: VariantSpec
    out_path: Path
    frame_hook: FrameHook | None = None
    metadata: Mapping[str, str] | None = None     # MP4 metadata items of this variant (moov/udta/meta)


def render_variant(base: BaseClip, spec: VariantSpec, out_path: Path, *, frame_hook: FrameHook | None = None,
                   crf: int = 20, preset: str = "veryfast", threads: int = 1, keyframe_s: float = KEYFRAME_S,
                   metadata: Mapping[str, str] | None = None, audio: Path | None = None) -> RenderedVariant:
    """Compose `spec` over `base` and encode it to `out_path` (atomically; nothing is left on error).

    `threads` is the x264 thread count; it is pinned (and recorded) because the encoded bytes
    depend on it, and reproducible bytes are what the ledger hashes. `metadata` items are written
    into moov/udta/meta (e.g. {"AIGC": <the one JSON object of GB 45438-2025>}). `keyframe_s`: the
    longest gap between keyframes, in seconds. `audio`: a music bed, fitted to the clip's length
    (generation.sound); None: no audio track.
    """
    job = VariantJob(spec=spec, out_path=Path(out_path), frame_hook=frame_hook, metadata=metadata)
    return render_variants(base, [job], crf=crf, preset=preset, threads=threads, keyframe_s=keyframe_s,
                           audio=audio)[0]


def shipped_frames(base: BaseClip, spec: VariantSpec, indices: Sequence[int]) -> list[np.ndarray]:
    """Frames `indices` of `spec` composed over `base` as its encode gets them (framing, plates, copy,
    price, CTA, the labels the spec carries; no watermark), without encoding anything."""
    fonts = _fonts_for(spec)
    composer = _Composer(base, VariantJob(spec=spec, out_path=Path(f"{spec.asset_id}.mp4")), fonts)
    wanted = set(indices)
    if not wanted or min(wanted) < 0 or max(wanted) >= base.frames:
        raise ValueError(f"frames {sorted(wanted)}: expected indices in 0..{base.frames - 1}")
    out = {i: composer.compose(i, frame) for i, frame in enumerate(read_clip(base.path, size=composer.clip_size))
           if i in wanted}
    return [out[i] for i in indices]


def check_variant_text(spec: VariantSpec) -> list[TextFitError]:
    """Preflight for a whole catalog: glyph coverage and text fit, with no frame made and nothing written.

    Raises GlyphError naming the locale (or a TextFitError for the labels); returns every copy text
    that does not fit its box, so the render reports all of a catalog's overflows at once.
    """
    fonts = _fonts_for(spec)
    layout = layout_for(spec.aspect, spec.width, spec.height, rtl=fonts["text"].direction == "rtl")
    if spec.labels:
        _labels_layer(spec.labels, label_heights(spec), fonts["labels"], layout, 1)
    # Fitted only, not drawn; the same text, face and box is measured once per process (a catalog
    # repeats its CTA, prices and often its copy across products, and every locale across aspects).
    found = (_fit_problem(name, text, fonts["text"], *_fit_box(name, box, layout))
             for name, text, box, _, _ in _copy_layers(spec, layout, 1))
    return [problem for problem in found if problem is not None]


def _copy_layers(spec: VariantSpec, layout: Layout, n_frames: int) -> list[tuple[str, str, Box, int, int]]:
    """The copy's text layers in drawing order: (name, text, box, first frame, frame after the last)."""
    layers = []
    if spec.headline.strip():
        layers.append(("headline", spec.headline, layout.headline, 0, n_frames))
    if spec.price_text.strip():
        layers.append(("price", spec.price_text, layout.price, 0, n_frames))
    captions = [c for c in spec.captions if c.strip()]
    for k, caption in enumerate(captions):
        layers.append(("captions", caption, layout.captions, k * n_frames // len(captions),
                       (k + 1) * n_frames // len(captions)))
    if spec.cta.strip():
        layers.append(("cta", spec.cta, layout.cta, math.floor(CTA_START * n_frames), n_frames))
    return layers


def _fit_box(name: str, box: Box, layout: Layout) -> tuple[int, int, int, int]:
    """What a text layer is fitted into: the box less its padding (w, h), and the font size range."""
    min_px = max(8, round(_MIN_SIZE * layout.short_side))
    max_px = max(min_px, round(_MAX_SIZE[name] * layout.short_side))
    return box.w - 2 * layout.pad, box.h - 2 * layout.pad, max_px, min_px


@lru_cache(maxsize=1 << 16)
def _fit_problem(name: str, text: str, lf: LocaleFont, box_w: int, box_h: int, max_px: int,
                 min_px: int) -> TextFitError | None:
    """Why the text does not fit (at the smallest size), or None when it fits."""
    try:
        fit_text(text, lf, box_w, box_h, max_size=max_px, min_size=min_px, what=name)
    except TextFitError as exc:
        return exc.with_traceback(None)
    return None


def render_variants(base: BaseClip, jobs: list[VariantJob], *, crf: int = 20, preset: str = "veryfast",
                    threads: int = 1, keyframe_s: float = KEYFRAME_S,
                    metadata: Mapping[str, str] | None = None, audio: Path | None = None) -> list[RenderedVariant]:
    """Several variants of one base clip from a single decode of it ("generate once, localize many").

    Decoding the lossless base clip costs about as much CPU as one encode, so it is decoded once per
    clip size and kept in memory for the next variants too, in this call or later ones (see
    DECODED_CLIPS_BYTES). Each variant of a batch has its own encoder process while its clip size is
    composed: keep batches small (one product's locales for one aspect ratio, say). Every
    variant is published at the end, or none is when anything fails. `metadata` items go into
    every variant of the batch; a job's own `metadata` adds to them (and wins on a shared key). `audio`: the
    music bed of every variant of the batch (see render_variant).
    """
    jobs = list(jobs)
    outs = [Path(job.out_path) for job in jobs]
    if not jobs or len(set(outs)) != len(outs):
        raise ValueError(f"render_variants: expected distinct output paths, got {[str(p) for p in outs]}")
    # 1. Check inputs and glyph coverage of every variant before any frame is made.
    items = [{**(metadata or {}), **(job.metadata or {})} for job in jobs]
    for job, meta in zip(jobs, items):
        _check_inputs(base, job.spec, crf, threads, keyframe_s)
        _check_metadata(meta)
    fonts = [_fonts_for(job.spec) for job in jobs]
    bed = fit_bed(audio, base.frames / base.fps) if audio is not None else None

    # 2. Static layers per variant: background, layout, text overlays (shaped, fitted, drawn once).
    composers = [_Composer(base, job, f) for job, f in zip(jobs, fonts)]
    settings = encoder_settings(base.fps, crf=crf, preset=preset, threads=threads, keyframe_s=keyframe_s)
    if bed is not None:
        settings["audio"] = bed.settings()
    per_variant = [_with_metadata(settings, meta) for meta in items]

    # 3. Per clip size, one decode; each frame is composed for every variant and piped to its encoder.
    #    Every variant is encoded to a temporary file beside its output; leaving the block without an
    #    error renames them all into place (4. publish), an error removes them all.
    with contextlib.ExitStack() as publish:
        for composer in composers:
            composer.tmp = publish.enter_context(atomic_path(composer.out_path, suffix=composer.out_path.suffix))
            composer.bed = bed
            composer.err = publish.enter_context(tempfile.TemporaryFile())
        try:
            for size in dict.fromkeys(c.clip_size for c in composers):
                group = [c for c in composers if c.clip_size == size]
                for composer in group:
                    composer.start(per_variant[composers.index(composer)])
                _pump(base, size, group)
                for composer in group:
                    composer.finish()     # faststart rewrites the file with the moov box first
        finally:
            for composer in composers:
                composer.stop()
    return [
        RenderedVariant(path=c.out_path, width=c.spec.width, height=c.spec.height, fps=base.fps, frames=c.written,
                        encoder_json=canonical_json(s))
        for c, s in zip(composers, per_variant)
    ]


def encoder_settings(fps: int, *, crf: int, preset: str, threads: int, keyframe_s: float = KEYFRAME_S) -> dict[str, object]:
    """Every setting of the final encode (recorded as encoder_json). keyint: the most frames from one
    keyframe to the next (x264 -g), so that no gap is longer than keyframe_s."""
    return {
        "encoder": "libx264", "ffmpeg": _ffmpeg_version(), "pix_fmt": "yuv420p", "crf": crf, "preset": preset,
        "threads": threads, "fps": fps, "keyint": max(1, math.floor(keyframe_s * fps)), "color": "bt709/tv",
        "movflags": "+faststart", "audio": None,
    }


def _with_metadata(settings: dict[str, object], metadata: Mapping[str, str]) -> dict[str, object]:
    """The encoder settings of one variant: with metadata, the mdta flag and the items themselves."""
    if not metadata:
        return settings
    return {**settings, "movflags": "+faststart+use_metadata_tags", "metadata": dict(sorted(metadata.items()))}


def text_regions(spec: VariantSpec) -> tuple[tuple[float, float, float, float], ...]:
    """Where the text boxes of `spec` lie (labels, headline, price, CTA, captions) as fractions
    (x0, y0, x1, y1) of the frame: what differs between locale siblings, for their fingerprints."""
    rtl = font_for_locale(spec.locale).direction == "rtl"
    layout = layout_for(spec.aspect, spec.width, spec.height, rtl=rtl)
    w, h = spec.width, spec.height
    return tuple((b.x / w, b.y / h, b.right / w, b.bottom / h) for b in layout.text_boxes().values())


def label_face(spec: VariantSpec) -> FontFace:
    """The one font face the labels of `spec` are drawn with (see face_for_labels)."""
    return face_for_labels(spec.labels, spec.locale)


def label_heights(spec: VariantSpec) -> tuple[float, ...]:
    """Minimum ink height of each label (fraction of the short side): the spec's, else the default."""
    return spec.label_min_height or (LABEL_MIN_HEIGHT,) * len(spec.labels)


def build_overlays(spec: VariantSpec, layout: Layout, n_frames: int, *, fonts: dict[str, LocaleFont] | None = None,
                   problems: list[TextFitError] | None = None) -> list[Overlay]:
    """The text layers of a variant, each fitted into its layout box and timed over `n_frames`.
    problems: when given, a copy text that does not fit is added to it (and left out) instead of raised."""
    fonts = fonts if fonts is not None else _fonts_for(spec)
    lf = fonts["text"]
    text_rgba = (*_rgb(spec.text_color, "text_color"), 255)
    plate = (*_rgb(spec.primary_color, "primary_color"), PLATE_ALPHA)
    cta_plate = (*_rgb(spec.secondary_color, "secondary_color"), 255)

    def text_layer(name: str, text: str, box: Box, first: int, last: int) -> Overlay:
        box_w, box_h, max_px, min_px = _fit_box(name, box, layout)
        fitted = fit_text(text, lf, box_w, box_h, max_size=max_px, min_size=min_px, what=name)
        plate_rgba = cta_plate if name == "cta" else plate
        block = draw_block(fitted, lf, color=text_rgba, align=layout.align)
        img = _plate(block.width + 2 * layout.pad, block.height + 2 * layout.pad, plate_rgba, layout.pad)
        img.alpha_composite(block, (layout.pad, layout.pad))
        x = _aligned_x(box, img.width, layout)
        y = box.y + (box.h - img.height) // 2
        return Overlay(name, x, y, np.asarray(img), first, last, fitted.size, 0)

    overlays: list[Overlay] = []

    def add(*args) -> None:
        try:
            overlays.append(text_layer(*args))
        except TextFitError as exc:
            if problems is None:
                raise
            problems.append(exc)

    if spec.labels:
        overlays.append(_labels_layer(spec.labels, label_heights(spec), fonts["labels"], layout, n_frames))
    for layer in _copy_layers(spec, layout, n_frames):
        add(*layer)
    return overlays


# ---------------------------------------------------------------------------------------------
# Steps


class _Composer:
    """One variant's static layers, its per-frame composition and its encoder process."""

    def __init__(self, base: BaseClip, job: VariantJob, fonts: dict[str, LocaleFont]):
        self.spec, self.out_path, self.hook = job.spec, Path(job.out_path), job.frame_hook
        spec = job.spec
        layout = layout_for(spec.aspect, spec.width, spec.height, rtl=fonts["text"].direction == "rtl")
        self.clip = layout.clip
        self.clip_size = (self.clip.w, self.clip.h)
        self.covers = (self.clip.x, self.clip.y, self.clip.w, self.clip.h) == (0, 0, spec.width, spec.height)
        self.background = np.empty((spec.height, spec.width, 3), np.uint8)
        self.background[:] = _rgb(spec.primary_color, "primary_color")
        self.blends: list[_Blend] = []
        self.static_text: list[tuple[slice, slice]] = []        # boxes of the text blended into the background
        for overlay in build_overlays(spec, layout, base.frames, fonts=fonts):
            blend = _Blend.of(overlay)
            if (blend.first, blend.last) == (0, base.frames) and not _overlaps(overlay, self.clip):
                blend.apply(self.background)   # static text on the static background: blended once
                self.static_text.append((blend.rows, blend.cols))
            else:
                self.blends.append(blend)
        for blend in self.blends:
            # Timed text on the static background, where no other timed layer goes: its composed
            # pixels are the same on every frame it shows on, so they are made once and copied.
            if not _overlaps_box(blend, self.clip) and not any(_overlaps_blend(blend, b) for b in self.blends
                                                                if b is not blend):
                blend.fix(self.background)
        self.tmp: Path | None = None      # set by render_variants (a temporary file beside out_path)
        self.err = None                   # ffmpeg's stderr: a temporary file, never an unread pipe
        self.bed: AudioBed | None = None  # the music bed of the batch, set by render_variants
        self.proc = None
        self.written = 0

    def start(self, settings: dict[str, object]) -> None:
        self.proc = _start_encoder(self.tmp, self.spec.width, self.spec.height, settings, self.err, self.bed)

    def write(self, i: int, clip_frame: np.ndarray) -> None:
        frame = self.compose(i, clip_frame)
        try:
            self.proc.stdin.write(frame.data)
        except BrokenPipeError:
            raise ClipError(f"{self.out_path}: encoder stopped: {self._stderr()}") from None
        self.written += 1

    def compose(self, i: int, clip_frame: np.ndarray) -> np.ndarray:
        """Frame i as it is encoded: the clip on the background, the text shown at i, the hook's mark."""
        # a. Place the clip on the brand background.
        if self.covers:
            frame = clip_frame.copy()
        else:
            frame = self.background.copy()
            frame[self.clip.y:self.clip.bottom, self.clip.x:self.clip.right] = clip_frame
        # b. Blend the text layers visible on this frame (precomputed alpha, integer math).
        for blend in self.blends:
            if blend.first <= i < blend.last:
                blend.apply(frame)
        # c. The watermark (or any hook) sees the final pixels; what it returns is what gets encoded,
        #    except the text layers shown on this frame: copy, price, CTA and the required AI labels
        #    are encoded exactly as composed (a hook may change the picture, never what the ad says).
        #    The frame is the composer's own, made anew: a hook may mark it in place.
        if self.hook is not None:
            text = [(b.rows, b.cols, b.patch if b.patch is not None else frame[b.rows, b.cols].copy())
                    for b in self.blends if b.first <= i < b.last]
            frame = _checked_hook_frame(self.hook(i, frame), self.spec, i)
            if not frame.flags.writeable:
                frame = frame.copy()
            for rows, cols in self.static_text:
                frame[rows, cols] = self.background[rows, cols]
            for rows, cols, pixels in text:
                frame[rows, cols] = pixels
        return frame

    def finish(self) -> None:
        self.proc.stdin.close()
        if self.proc.wait() != 0:
            raise ClipError(f"{self.out_path}: ffmpeg failed: {self._stderr()}")

    def stop(self) -> None:
        """An encoder still running after an error is killed (its temporary file is removed)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def _stderr(self) -> str:
        self.err.seek(0)
        return self.err.read().decode(errors="replace").strip()


def _pump(base: BaseClip, size: tuple[int, int], composers: list[_Composer]) -> None:
    """Hand every frame of the base clip, decoded at `size`, to each composer."""
    for i, clip_frame in enumerate(_DECODED.frames(base, size)):
        for composer in composers:
            composer.write(i, clip_frame)


class _DecodedClips:
    """The decoded frames of recent base clips (read-only), within a byte budget, least recently used
    evicted first. Keyed by the file's identity too (size, mtime, inode), so a clip rewritten in place
    is decoded again. Threads asking for the same clip at once wait for one decode."""

    def __init__(self, budget: int):
        self.budget = budget
        self.lock = threading.Lock()
        self.clips: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self.decoding: dict[tuple, threading.Lock] = {}

    def frames(self, base: BaseClip, size: tuple[int, int]) -> np.ndarray:
        try:
            st = Path(base.path).stat()
        except OSError:
            raise ClipError(f"{base.path}: no such file") from None
        key = (str(base.path), base.key, base.frames, size, st.st_size, st.st_mtime_ns, st.st_ino)
        with self.lock:
            decoding = self.decoding.setdefault(key, threading.Lock())
        with decoding:
            with self.lock:
                frames = self.clips.get(key)
                if frames is not None:
                    self.clips.move_to_end(key)
                    return frames
            try:
                frames = read_frames(base.path, base.frames, size=None if size == (base.width, base.height) else size)
                frames.flags.writeable = False
                with self.lock:
                    if frames.nbytes <= self.budget:
                        self.clips[key] = frames
                        while sum(f.nbytes for f in self.clips.values()) > self.budget:
                            self.clips.popitem(last=False)
            finally:
                with self.lock:
                    self.decoding.pop(key, None)
            return frames


_DECODED = _DecodedClips(DECODED_CLIPS_BYTES)


def _check_inputs(base: BaseClip, spec: VariantSpec, crf: int, threads: int, keyframe_s: float) -> None:
    if spec.width <= 0 or spec.height <= 0 or spec.width % 2 or spec.height % 2:
        raise ValueError(f"variant size {spec.width}x{spec.height}: width and height must be positive and even")
    if base.width != base.height:
        raise ValueError(f"base clip {base.path}: {base.width}x{base.height}, expected a square clip")
    if base.fps <= 0 or base.frames <= 0:
        raise ValueError(f"base clip {base.path}: fps={base.fps} frames={base.frames}")
    if not 0 <= crf <= 51:
        raise ValueError(f"crf {crf}: expected 0..51")
    if threads < 1:
        raise ValueError(f"threads {threads}: expected >= 1")
    if isinstance(keyframe_s, bool) or not (isinstance(keyframe_s, (int, float)) and 0 < keyframe_s <= 10):
        raise ValueError(f"keyframe_s {keyframe_s!r}: expected seconds in (0, 10]")
    if not spec.font_family.lower().startswith("noto sans"):
        raise ValueError(f"font_family {spec.font_family!r}: only the Noto Sans family is installed")
    if spec.label_min_height and len(spec.label_min_height) != len(spec.labels):
        raise ValueError(f"label_min_height {spec.label_min_height}: expected one height per label {spec.labels}")
    for h in spec.label_min_height:
        if isinstance(h, bool) or not (isinstance(h, (int, float)) and 0 < h < 0.5):
            raise ValueError(f"label_min_height {h!r}: expected a fraction of the short side in (0, 0.5)")
    for field in ("primary_color", "secondary_color", "text_color"):
        _rgb(getattr(spec, field), field)


def _fonts_for(spec: VariantSpec) -> dict[str, LocaleFont]:
    """The locale's faces for the copy and for the labels; GlyphError before any frame is drawn."""
    text_font = font_for_locale(spec.locale)
    for text in (spec.headline, spec.price_text, spec.cta, *spec.captions):
        check_locale_coverage(text_font, text)
    if not spec.labels:
        return {"text": text_font, "labels": text_font}
    # A region's label may be in another script than the copy (e.g. "AI生成" on an English ad in China):
    # label_face falls back to Noto Sans CJK, which draws Latin and CJK.
    return {"text": text_font, "labels": dataclasses.replace(text_font, faces=(label_face(spec),))}


def _labels_layer(labels: tuple[str, ...], heights: tuple[float, ...], lf: LocaleFont, layout: Layout,
                  n_frames: int) -> Overlay:
    """Disclosure labels stacked in the top-right corner, each label's ink at least its minimum height."""
    # 1. Per label, the smallest font size at which its ink is tall enough (ink height grows with size).
    targets = [math.ceil(h * LABEL_MARGIN * layout.short_side) for h in heights]
    fonts = []
    for label, target in zip(labels, targets):
        lo, hi = 1, 4 * target
        while lo < hi:
            mid = (lo + hi) // 2
            if _ink_box(pil_font(lf, mid, label), label, lf)[3] >= target:
                hi = mid
            else:
                lo = mid + 1
        fonts.append((lo, pil_font(lf, lo, label)))

    # 2. One plate per label, tight around its ink; right-aligned, stacked downwards.
    pad, gap = layout.pad, max(1, layout.pad // 2)
    boxes = [_ink_box(font, label, lf) for label, (_, font) in zip(labels, fonts)]
    width = max(w for _, _, w, _ in boxes) + 2 * pad
    height = sum(h + 2 * pad for *_, h in boxes) + gap * (len(labels) - 1)
    box = layout.labels
    if width > box.w or height > box.h:
        raise TextFitError(f"{lf.locale}: labels {list(labels)} need {width}x{height} px at the minimum "
                           f"heights {targets} px; the label box is {box.w}x{box.h}")
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    y = 0
    for label, (_, font), (left, top, w, h) in zip(labels, fonts, boxes):
        plate = _plate(w + 2 * pad, h + 2 * pad, LABEL_PLATE, pad)
        ImageDraw.Draw(plate).text((pad - left, pad - top), label, font=font, fill=LABEL_TEXT, anchor="ls",
                                   direction=lf.direction, language=lf.language)
        img.alpha_composite(plate, (width - plate.width, y))
        y += plate.height + gap
    return Overlay("labels", box.right - width, box.y, np.asarray(img), 0, n_frames, max(px for px, _ in fonts),
                   min(h for *_, h in boxes))


def _ink_box(font, text: str, lf: LocaleFont) -> tuple[int, int, int, int]:
    """(left, top, width, height) of the drawn pixels relative to the baseline origin."""
    left, top, right, bottom = font.getbbox(text, anchor="ls", direction=lf.direction, language=lf.language)
    return left, top, right - left, bottom - top


def _plate(w: int, h: int, rgba: tuple[int, ...], radius: int) -> Image.Image:
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(img).rounded_rectangle((0, 0, w - 1, h - 1), radius=radius, fill=tuple(rgba))
    return img


def _overlaps(overlay: Overlay, box: Box) -> bool:
    h, w = overlay.rgba.shape[:2]
    return overlay.x < box.right and box.x < overlay.x + w and overlay.y < box.bottom and box.y < overlay.y + h


def _overlaps_box(blend: _Blend, box: Box) -> bool:
    return blend.cols.start < box.right and box.x < blend.cols.stop and blend.rows.start < box.bottom \
        and box.y < blend.rows.stop


def _overlaps_blend(a: _Blend, b: _Blend) -> bool:
    return a.cols.start < b.cols.stop and b.cols.start < a.cols.stop and a.rows.start < b.rows.stop \
        and b.rows.start < a.rows.stop


def _aligned_x(box: Box, width: int, layout: Layout) -> int:
    if layout.align == "center":
        return box.x + (box.w - width) // 2
    return box.right - width if layout.rtl else box.x


class _Blend:
    """Alpha blending of one overlay in uint16: out = (frame * (255 - a) + color * a) / 255, rounded."""

    def __init__(self, overlay: Overlay, premul: np.ndarray, inv: np.ndarray):
        self.first, self.last = overlay.first, overlay.last
        h, w = overlay.rgba.shape[:2]
        self.rows, self.cols = slice(overlay.y, overlay.y + h), slice(overlay.x, overlay.x + w)
        self.premul, self.inv = premul, inv
        self.buf = np.empty((h, w, 3), np.uint16)
        self.tmp = np.empty((h, w, 3), np.uint16)
        self.patch: np.ndarray | None = None     # the composed pixels, where they never change (fix)

    @classmethod
    def of(cls, overlay: Overlay) -> _Blend:
        alpha = overlay.rgba[..., 3:4].astype(np.uint16)
        # +128 and the (t + t>>8) >> 8 below divide by 255 with rounding, exactly, without overflow.
        premul = overlay.rgba[..., :3].astype(np.uint16) * alpha + 128
        # One weight per channel, not broadcast from one per pixel: numpy's broadcasting loop is ~7x slower.
        return cls(overlay, premul, np.repeat(255 - alpha, 3, axis=2))

    def fix(self, background: np.ndarray) -> None:
        """Blend once onto `background`'s pixels (not changing them); apply copies the result from then on."""
        patch = background[self.rows, self.cols].copy()
        self._blend(patch)
        patch.flags.writeable = False
        self.patch = patch

    def apply(self, frame: np.ndarray) -> None:
        if self.patch is not None:
            frame[self.rows, self.cols] = self.patch
        else:
            self._blend(frame[self.rows, self.cols])

    def _blend(self, region: np.ndarray) -> None:
        np.multiply(region, self.inv, out=self.buf, dtype=np.uint16)
        np.add(self.buf, self.premul, out=self.buf)
        np.right_shift(self.buf, 8, out=self.tmp)
        np.add(self.buf, self.tmp, out=self.buf)
        np.right_shift(self.buf, 8, out=self.buf)
        np.copyto(region, self.buf, casting="unsafe")


def _checked_hook_frame(frame: np.ndarray, spec: VariantSpec, i: int) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.shape != (spec.height, spec.width, 3) or frame.dtype != np.uint8:
        got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ValueError(f"frame_hook returned {got} for frame {i}; expected uint8 ({spec.height}, {spec.width}, 3)")
    return np.ascontiguousarray(frame)


def _check_metadata(metadata: Mapping[str, str]) -> None:
    """Keys are printable ASCII without '=' (ffmpeg splits KEY=VALUE at the first one); values are text."""
    for key, value in metadata.items():
        if not (isinstance(key, str) and key and key.isascii() and key.isprintable() and "=" not in key):
            raise ValueError(f"metadata key {key!r}: expected printable ASCII without '='")
        if not isinstance(value, str) or "\x00" in value:
            raise ValueError(f"metadata {key}: expected a text value without NUL, got {value!r}")


def _start_encoder(tmp: Path, width: int, height: int, settings: dict[str, object], err, bed: AudioBed | None = None):
    # one -metadata per item; "metadata:g:<i>" are distinct option names that all mean global metadata
    items = {f"metadata:g:{i}": f"{k}={v}" for i, (k, v) in enumerate(dict(settings.get("metadata") or {}).items())}
    video = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", r=settings["fps"])
    # the bed's first audio stream only (an MP3's cover picture stays out), shaped and levelled by bed.filter
    streams, sound = ((video, ffmpeg.input(str(bed.path))["a:0"]),
                      {"af": bed.filter, "acodec": "aac", "audio_bitrate": AAC_BITRATE, "ar": SAMPLE_RATE}) \
        if bed is not None else ((video,), {"an": None})
    args = (
        ffmpeg.output(
            *streams, str(tmp), format="mp4", vcodec="libx264", pix_fmt="yuv420p", crf=settings["crf"],
            preset=settings["preset"], threads=settings["threads"], r=settings["fps"], g=settings["keyint"], **sound,
            # RGB -> YUV with the BT.709 matrix, and say so in the stream, so players convert back the same way:
            # the frames carry the tags (setparams), else the encoder writes primaries and transfer as unknown.
            vf="scale=out_color_matrix=bt709:out_range=tv,setparams=color_primaries=bt709:color_trc=bt709"
               ":colorspace=bt709:range=tv", colorspace="bt709", color_primaries="bt709",
            color_trc="bt709", color_range="tv", movflags=settings["movflags"], map_metadata=-1, fflags="+bitexact",
            **items,
        )
        .global_args("-loglevel", "error", "-nostdin")
        .overwrite_output()
        .compile(cmd=ffmpeg_exe())
    )
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)


@lru_cache(maxsize=1)
def _ffmpeg_version() -> str:
    return imageio_ffmpeg.get_ffmpeg_version()


def _rgb(value: str, field: str) -> tuple[int, int, int]:
    if not (isinstance(value, str) and len(value) == 7 and value[0] == "#"):
        raise ValueError(f"{field} {value!r}: expected #RRGGBB")
    try:
        return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)
    except ValueError:
        raise ValueError(f"{field} {value!r}: expected #RRGGBB") from None

