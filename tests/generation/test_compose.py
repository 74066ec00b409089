"""Composition and the single final encode: real H.264 files, checked by parsing and decoding them."""
from __future__ import annotations

import dataclasses
import json
import math
from decimal import Decimal

import numpy as np
import pytest
from PIL import Image

from gen_media import coffee_photo, ffmpeg_stream_info, make_spec, mp4_box, mp4_boxes
from foundation.frames import ClipError, read_clip
from generation.compose import (CTA_START, VariantJob, build_overlays, format_price, render_variant, render_variants,
                                shipped_frames)
from generation.contact_sheet import contact_sheet, write_candidate_sheets
from generation.fonts import GlyphError
from generation.layout import layout_for
from generation.motion import make_base_clip
from generation.text import TextFitError

SHORT = 240


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("base")
    return make_base_clip(coffee_photo(folder), cache_dir=folder / "cache", size=SHORT, fps=12,
                          duration_s=1.0, seed=11)


@pytest.mark.parametrize("amount, currency, locale, expected", [
    (Decimal("1299.50"), "EUR", "de-DE", "1.299,50\xa0€"),
    (Decimal("1299"), "JPY", "ja-JP", "￥1,299"),
    (Decimal("1299.50"), "SAR", "ar-SA", "\u200f1,299.50\xa0ر.س.\u200f"),
    (Decimal("1299.50"), "CNY", "zh-CN", "¥1,299.50"),
    (Decimal("1299.50"), "MXN", "es-MX", "$1,299.50"),
])
def test_prices_are_written_the_locale_way(amount, currency, locale, expected):
    assert format_price(amount, currency, locale) == expected


def test_price_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="currency 'EURO'"):
        format_price(Decimal("1"), "EURO", "de-DE")
    with pytest.raises(ValueError, match="locale 'xx-YY'"):
        format_price(Decimal("1"), "EUR", "xx-YY")


@pytest.mark.parametrize("aspect", ["9:16", "1:1", "16:9"])
def test_variant_is_a_faststart_h264_yuv420p_mp4(base, tmp_path, aspect):
    spec = make_spec("ja-JP", aspect, SHORT)
    out = tmp_path / "v.mp4"
    rv = render_variant(base, spec, out)
    assert (rv.path, rv.width, rv.height, rv.fps, rv.frames) == (out, spec.width, spec.height, 12, 12)

    data = out.read_bytes()
    top = [kind for kind, _, _ in mp4_boxes(data)]
    assert top[0] == "ftyp" and top.index("moov") < top.index("mdat")        # faststart: index first
    stbl = ["moov", "trak", "mdia", "minf", "stbl"]
    start, _ = mp4_box(data, [*stbl, "stsd"])
    assert data[start + 12:start + 16] == b"avc1"                            # H.264 sample entry
    start, _ = mp4_box(data, [*stbl, "stsz"])
    assert int.from_bytes(data[start + 8:start + 12], "big") == 12           # one sample per frame
    info = ffmpeg_stream_info(out)
    # matrix, primaries and transfer all BT.709 (ffmpeg prints one name when the three agree), TV range
    assert "h264" in info and "yuv420p(tv, bt709, progressive)" in info and f"{spec.width}x{spec.height}" in info
    assert "Audio" not in ffmpeg_stream_info(out)
    frames = list(read_clip(out))
    assert len(frames) == 12 and frames[0].shape == (spec.height, spec.width, 3)

    settings = json.loads(rv.encoder_json)
    assert settings["encoder"] == "libx264" and settings["crf"] == 20 and settings["preset"] == "veryfast"
    assert rv.encoder_json == json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]                 # the temp file was renamed


def _keyframes(path) -> list[int]:
    """0-based frame numbers of the sync samples (stss) of the file's only track."""
    data = path.read_bytes()
    start, _ = mp4_box(data, ["moov", "trak", "mdia", "minf", "stbl", "stss"])
    count = int.from_bytes(data[start + 4:start + 8], "big")
    return [int.from_bytes(data[start + 8 + 4 * i:start + 12 + 4 * i], "big") - 1 for i in range(count)]


@pytest.mark.parametrize("keyframe_s, keyint", [(2.0, 24), (0.5, 6)])
def test_no_gap_between_keyframes_is_longer_than_asked(tmp_path, keyframe_s, keyint):
    clip = make_base_clip(coffee_photo(tmp_path), cache_dir=tmp_path / "cache", size=SHORT, fps=12,
                          duration_s=5.0, seed=3)
    rv = render_variant(clip, make_spec("de-DE", "1:1", SHORT), tmp_path / "v.mp4", keyframe_s=keyframe_s)
    keys = _keyframes(rv.path)
    assert keys[0] == 0 and max(b - a for a, b in zip(keys, [*keys[1:], rv.frames])) <= keyint, keys
    assert json.loads(rv.encoder_json)["keyint"] == keyint


@pytest.mark.parametrize("bad", [0, -1.0, 11, True, "2"])
def test_a_bad_keyframe_interval_is_refused_by_value(base, tmp_path, bad):
    with pytest.raises(ValueError, match=rf"keyframe_s {bad!r}: expected seconds in \(0, 10\]"):
        render_variant(base, make_spec("de-DE", "1:1", SHORT), tmp_path / "x.mp4", keyframe_s=bad)
    assert not list(tmp_path.iterdir())


def test_single_video_track_and_no_audio(base, tmp_path):
    out = tmp_path / "v.mp4"
    render_variant(base, make_spec("de-DE", "1:1", SHORT), out)
    data = out.read_bytes()
    traks = [b for b in mp4_boxes(data, *mp4_box(data, ["moov"])) if b[0] == "trak"]
    assert len(traks) == 1


def test_frame_hook_runs_once_per_frame_and_its_pixels_are_encoded(base, tmp_path):
    spec = make_spec("zh-CN", "9:16", SHORT)
    calls: list[int] = []
    seen_background: list[tuple[int, ...]] = []

    def paint_square(i: int, frame: np.ndarray) -> np.ndarray:
        calls.append(i)
        seen_background.append(tuple(frame[4, 4]))     # the hook sees the composed frame (brand background)
        out = frame.copy()
        out[8:56, 8:56] = (255, 0, 0)
        return out

    rv = render_variant(base, spec, tmp_path / "hook.mp4", frame_hook=paint_square)
    assert calls == list(range(rv.frames))
    assert all(abs(c - e) <= 1 for px in seen_background for c, e in zip(px, (0x1F, 0x3A, 0x5F)))
    for frame in read_clip(rv.path):
        square = frame[16:48, 16:48].reshape(-1, 3).mean(axis=0)
        assert square[0] > 230 and square[1] < 25 and square[2] < 25
        assert frame[80:100, 4:20, 0].mean() < 60           # outside the square: the background, not red


def _invert_in_place(i: int, frame: np.ndarray) -> np.ndarray:
    np.subtract(255, frame, out=frame)
    return frame


@pytest.mark.parametrize("invert", [lambda i, frame: 255 - frame, _invert_in_place], ids=["copy", "in-place"])
@pytest.mark.parametrize("aspect", ["1:1", "9:16"])     # text over the clip; text on the panel too
def test_a_hook_never_changes_the_text_layers(base, tmp_path, invert, aspect):
    """A hook that inverts every pixel (into a new frame, or the composer's own in place): the
    picture is inverted, but the copy, price and labels shown on each frame are encoded exactly
    as composed (the watermark never marks a plate)."""
    spec = make_spec("de-DE", aspect, SHORT)
    plain = list(read_clip(render_variant(base, spec, tmp_path / "plain.mp4").path))
    hooked = list(read_clip(render_variant(base, spec, tmp_path / "inverted.mp4", frame_hook=invert).path))
    layout = layout_for(aspect, spec.width, spec.height)
    overlays = build_overlays(spec, layout, len(plain))
    assert any(not (o.x < layout.clip.right and layout.clip.x < o.x + o.rgba.shape[1]
                    and o.y < layout.clip.bottom and layout.clip.y < o.y + o.rgba.shape[0])
               for o in overlays) == (aspect == "9:16")
    assert {o.name for o in overlays} >= {"labels", "headline", "price"}
    for i, (a, b) in enumerate(zip(plain, hooked)):
        text = np.zeros(a.shape[:2], bool)
        for o in overlays:
            if o.first <= i < o.last:
                h, w = o.rgba.shape[:2]
                text[o.y + 4: o.y + h - 4, o.x + 4: o.x + w - 4] = True    # inside, off the block edges
        diff = np.abs(a.astype(np.int16) - b).mean(axis=2)
        assert diff[text].mean() < 6, f"frame {i}: a text layer changed"     # codec noise; inverted: ~100
        assert diff[~text].mean() > 40, f"frame {i}: the picture was not inverted"


def test_hook_error_leaves_nothing_behind(base, tmp_path):
    def wrong_shape(i, frame):
        return frame[:10]

    with pytest.raises(ValueError, match="frame_hook returned uint8 \\(10, "):
        render_variant(base, make_spec("de-DE", "1:1", SHORT), tmp_path / "bad.mp4", frame_hook=wrong_shape)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("locale, field, text, missing", [
    ("de-DE", "headline", "Neu: สวัสดี", "U+0E2A"),              # Thai with a Latin face
    ("ja-JP", "cta", "今すぐ購入 🎉", "U+1F389"),                 # emoji: no Noto colour font here
    ("ar-SA", "captions", ("توصيل مجاني \ue000",), "U+E000"),    # private use
])
def test_missing_glyph_fails_before_any_output(base, tmp_path, locale, field, text, missing):
    spec = make_spec(locale, "9:16", SHORT, **{field: text})
    out = tmp_path / "never.mp4"
    with pytest.raises(GlyphError) as err:
        render_variant(base, spec, out)
    assert str(err.value).startswith(f"{locale}: ") and missing in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_label_in_another_script_uses_a_face_that_has_it(base, tmp_path):
    # "AI生成" on an English ad for the Chinese market: drawn with Noto Sans CJK, not refused.
    spec = make_spec("de-DE", "1:1", SHORT, labels=("AI生成",))
    overlays = build_overlays(spec, layout_for("1:1", SHORT, SHORT), 12)
    assert [o.name for o in overlays][0] == "labels"


@pytest.mark.parametrize("locale, labels", [("zh-CN", ("AI生成",)), ("de-DE", ("AI GENERATED",)),
                                            ("ar-SA", ("AI GENERATED",))])
@pytest.mark.parametrize("aspect", ["9:16", "1:1", "16:9"])
def test_labels_are_top_right_from_the_first_frame_and_tall_enough(locale, labels, aspect):
    spec = make_spec(locale, aspect, 720, labels=labels)
    layout = layout_for(aspect, spec.width, spec.height, rtl=locale == "ar-SA")
    overlays = {o.name: o for o in build_overlays(spec, layout, 144)}
    lab = overlays["labels"]
    assert (lab.first, lab.last) == (0, 144)
    assert lab.text_px >= math.ceil(0.05 * 720)
    h, w = lab.rgba.shape[:2]
    assert lab.x + w == layout.safe.right and lab.y == layout.safe.y


def test_label_ink_in_the_encoded_frame_is_at_least_5_percent(base, tmp_path):
    short = 480        # the clip is scaled up to the layout; big enough that H.264 keeps thin strokes bright
    spec = make_spec("zh-CN", "1:1", short)
    layout = layout_for("1:1", short, short)
    lab = next(o for o in build_overlays(spec, layout, base.frames) if o.name == "labels")
    rv = render_variant(base, spec, tmp_path / "label.mp4")
    first = list(read_clip(rv.path))[0]   # read to the end: closing the decoder early is an error
    h, w = lab.rgba.shape[:2]
    region = first[lab.y:lab.y + h, lab.x:lab.x + w].min(axis=2) > 160    # white text on a dark plate
    rows = np.flatnonzero(region.any(axis=1))
    assert rows[-1] - rows[0] + 1 >= math.ceil(0.05 * short)


def test_captions_share_the_duration_and_the_cta_comes_last():
    spec = make_spec("de-DE", "9:16", 480, captions=("eins", "zwei", "drei"))
    overlays = build_overlays(spec, layout_for("9:16", spec.width, spec.height), 144)
    caps = [(o.first, o.last) for o in overlays if o.name == "captions"]
    assert caps == [(0, 48), (48, 96), (96, 144)]
    cta = next(o for o in overlays if o.name == "cta")
    assert (cta.first, cta.last) == (math.floor(CTA_START * 144), 144)
    head = next(o for o in overlays if o.name == "headline")
    assert (head.first, head.last) == (0, 144)


@pytest.mark.parametrize("locale", ["de-DE", "ja-JP", "zh-CN", "ar-SA"])
@pytest.mark.parametrize("aspect", ["9:16", "1:1", "16:9"])
def test_every_text_layer_stays_inside_the_safe_zone(locale, aspect):
    spec = make_spec(locale, aspect, 720)
    layout = layout_for(aspect, spec.width, spec.height, rtl=locale == "ar-SA")
    for o in build_overlays(spec, layout, 144):
        h, w = o.rgba.shape[:2]
        assert layout.safe.x <= o.x and o.x + w <= layout.safe.right, o.name
        assert layout.safe.y <= o.y and o.y + h <= layout.safe.bottom, o.name


def test_overlong_copy_is_refused_not_spilled(base, tmp_path):
    spec = make_spec("de-DE", "9:16", SHORT, cta="Donaudampfschifffahrtsgesellschaftskapitänsmütze")
    with pytest.raises(TextFitError, match="de-DE: cta"):
        render_variant(base, spec, tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []


def test_contact_sheet_grid(base, tmp_path):
    paths = []
    for aspect in ("9:16", "16:9"):
        p = tmp_path / f"v_{aspect.replace(':', 'x')}.mp4"
        render_variant(base, make_spec("de-DE", aspect, SHORT), p)
        paths.append(p)
    sheet = contact_sheet(paths, tmp_path / "sheet.png", frames_per_clip=2)
    img = Image.open(sheet)
    assert img.height == 2 * (320 + 28 + 8) + 8
    # Row 2 holds two 16:9 (426x240) frames scaled to 320 px high, side by side.
    assert img.width == 2 * round(426 * 320 / 240) + 3 * 8


def test_shipped_frames_are_the_frames_the_encoder_gets(base, tmp_path):
    spec = make_spec("ar-SA", "9:16", SHORT)
    seen = {}

    def keep(i, frame):
        seen[i] = frame.copy()
        return frame

    render_variant(base, spec, tmp_path / "v.mp4", frame_hook=keep)
    picks = [0, 5, base.frames - 1]
    assert all(np.array_equal(f, seen[i]) for i, f in zip(picks, shipped_frames(base, spec, picks)))
    with pytest.raises(ValueError, match=r"frames \[99\]: expected indices in 0\.\.11"):
        shipped_frames(base, spec, [99])


def test_the_takes_sheet_shows_each_take_as_it_ships(base, tmp_path):
    other = make_base_clip(coffee_photo(tmp_path), cache_dir=tmp_path / "cache", size=SHORT, fps=12,
                           duration_s=1.0, seed=12)
    spec = make_spec("ar-SA", "9:16", 720)                  # the product's first variant, at its real size
    folder = write_candidate_sheets(tmp_path / "set", [base, other], "SKU-1", spec)
    sheet = np.asarray(Image.open(folder / "takes.png").convert("RGB"))
    # 4 frames per take of the 9:16 layout composed at 288x512, shown 180x320, two rows
    assert sheet.shape == (2 * (320 + 28 + 8) + 8, 4 * 180 + 5 * 8, 3)
    small = dataclasses.replace(spec, width=288, height=512)
    for row, clip in enumerate([base, other]):
        last = shipped_frames(clip, small, [clip.frames - 1])[0]
        thumb = np.asarray(Image.fromarray(last).resize((180, 320), Image.Resampling.LANCZOS))
        y, x = 8 + row * (320 + 28 + 8) + 28, 8 + 3 * (180 + 8)
        assert np.array_equal(sheet[y:y + 320, x:x + 180], thumb)     # the CTA and price are on it
    listing = json.loads((folder / "takes.json").read_text())
    assert [t["take"] for t in listing["takes"]] == [0, 1] and listing["sku"] == "SKU-1"


@pytest.mark.slow
def test_a_batch_decodes_once_and_matches_single_renders_byte_for_byte(base, tmp_path):
    specs = [make_spec("de-DE", "9:16", SHORT), make_spec("ar-SA", "16:9", SHORT), make_spec("ja-JP", "1:1", SHORT),
             make_spec("zh-CN", "1:1", 2 * SHORT)]          # a second clip size: a second decode pass
    jobs = [VariantJob(spec, tmp_path / f"batch_{k}.mp4") for k, spec in enumerate(specs)]
    batch = render_variants(base, jobs)
    for k, (spec, rv) in enumerate(zip(specs, batch)):
        single = render_variant(base, spec, tmp_path / f"single_{k}.mp4")
        assert (rv.width, rv.height, rv.frames) == (spec.width, spec.height, base.frames)
        assert rv.path.read_bytes() == single.path.read_bytes()      # x264 pinned to one thread: reproducible


def test_a_failing_variant_publishes_none_of_the_batch(base, tmp_path):
    def fails_at_5(i, frame):
        if i == 5:
            raise RuntimeError("watermark embedder failed at frame 5")
        return frame

    jobs = [VariantJob(make_spec("de-DE", "1:1", SHORT), tmp_path / "ok.mp4"),
            VariantJob(make_spec("de-DE", "16:9", SHORT), tmp_path / "bad.mp4", fails_at_5)]
    with pytest.raises(RuntimeError, match="frame 5"):
        render_variants(base, jobs)
    assert list(tmp_path.iterdir()) == []


def _own_clip(base, folder):
    """A copy of the base clip in its own file, so a test may damage it."""
    folder.mkdir()
    path = folder / "clip.mp4"
    path.write_bytes(base.path.read_bytes())
    return dataclasses.replace(base, path=path)


def test_a_clip_rewritten_after_a_render_is_decoded_again_not_reused(base, tmp_path):
    clip = _own_clip(base, tmp_path / "clip")
    spec = make_spec("de-DE", "1:1", SHORT)
    render_variant(clip, spec, tmp_path / "first.mp4")
    clip.path.write_bytes(b"\0" * 4096)                   # the decoded frames of the old file are not used
    with pytest.raises(ClipError, match="clip.mp4"):
        render_variant(clip, spec, tmp_path / "second.mp4")
    assert not (tmp_path / "second.mp4").exists()


@pytest.mark.parametrize("extra, message", [(1, r"decoded 12 frames, the clip records 13"),
                                            (-1, r"more frames than the 11 recorded")])
def test_a_clip_with_other_than_its_recorded_frame_count_is_refused(base, tmp_path, extra, message):
    wrong = dataclasses.replace(base, frames=base.frames + extra)
    with pytest.raises(ClipError, match=message):
        render_variant(wrong, make_spec("de-DE", "1:1", SHORT), tmp_path / "v.mp4")
    assert list(tmp_path.iterdir()) == []
