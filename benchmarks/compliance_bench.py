"""Compliance gate per variant on this machine: likeness + protected works + visible label.

Builds a real 15 s, 720x1280, 24 fps H.264 variant (three shots: a person, a product, a cat;
"AI生成" on a plate for the first 3 s) and its first half (7.5 s), runs the three checks on
each file as the pipeline does, and compares the likeness check with a named peer: the naive
face_recognition-style loop, dlib HOG + ResNet embedding on every frame at full resolution.
Prints a markdown table.

    .venv/bin/python benchmarks/compliance_bench.py [--no-peer]
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage import data
from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compliance.labels import check_visible_label, label_font_px  # noqa: E402
from compliance.likeness import FaceModels, check_likeness, face_embedding  # noqa: E402
from compliance.protected_works import ProtectedWorksRegistry, check_protected  # noqa: E402
from compliance.registry import LikenessRegistry  # noqa: E402
from compliance.rules import ContentFacts, applicable_rules, load_profiles, visible_labels  # noqa: E402
from foundation.frames import ffmpeg_exe, read_clip  # noqa: E402

W, H, FPS = 720, 1280, 24
CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
CJK_SC = 2
RENDER_DAY = date(2026, 9, 1)


def shot(image: np.ndarray, n: int) -> Iterator[np.ndarray]:
    """n frames panning across `image`, scaled (aspect kept) to cover a 720x1280 frame with room to move."""
    img = Image.fromarray(image[..., :3])
    k = max(W * 1.25 / img.width, H * 1.05 / img.height)
    big = img.resize((round(img.width * k), round(img.height * k)), Image.Resampling.BICUBIC)
    top = (big.height - H) // 2
    for x in np.linspace(0, big.width - W, n).round().astype(int):
        yield np.asarray(big.crop((x, top, x + W, top + H)))


def variant_frames(seconds: float, label: str, label_px: int) -> Iterator[np.ndarray]:
    n = round(seconds * FPS)
    third = round(15 * FPS / 3)  # shot length stays 5 s: the half clip is the first 7.5 s
    font = ImageFont.truetype(str(CJK), label_px, index=CJK_SC)
    left, t, r, b = font.getbbox(label)
    pad, margin = round(0.3 * (b - t)), round(0.03 * W)
    shots = [shot(data.astronaut(), third), shot(data.coffee(), third), shot(data.chelsea(), third)]
    i = 0
    for s in shots:
        for frame in s:
            if i == n:
                return
            if i < 3 * FPS:  # the CN label: first 3 s, top right, white on a dark plate
                img = Image.fromarray(frame).convert("RGBA")
                layer = Image.new("RGBA", img.size)
                d = ImageDraw.Draw(layer)
                x1, y0 = W - margin, margin
                x0, y1 = x1 - (r - left) - 2 * pad, y0 + (b - t) + 2 * pad
                d.rectangle([x0, y0, x1, y1], fill=(0, 0, 0, 170))
                d.text((x0 + pad - left, y0 + pad - t), label, font=font, fill=(255, 255, 255, 255))
                frame = np.asarray(Image.alpha_composite(img, layer).convert("RGB"))
            yield frame
            i += 1


def encode(frames: Iterator[np.ndarray], path: Path) -> Path:
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", str(FPS),
           "-i", "pipe:", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
           "-movflags", "+faststart", str(path)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for f in frames:
        proc.stdin.write(np.ascontiguousarray(f).tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed encoding {path}")
    return path


def peer_likeness(path: Path, models: FaceModels, registered: np.ndarray) -> tuple[int, int]:
    """Every frame, full resolution, HOG (no upsampling) + 5-point landmarks + ResNet embedding."""
    frames = faces = 0
    for frame in read_clip(path):
        frames += 1
        rects = models.detector(frame, 0)
        for rect in rects:
            vec = np.asarray(models.encoder.compute_face_descriptor(frame, models.shape_predictor(frame, rect)))
            faces += int(np.linalg.norm(vec - registered) < 0.5)
    return frames, faces


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-peer", action="store_true", help="skip the every-frame full-resolution peer (minutes)")
    args = ap.parse_args()

    facts = ContentFacts(ai_generated=True, ai_modified=False, realistic_people=True, synthetic_performer=False, deepfake=False)
    (req,) = visible_labels(applicable_rules(load_profiles()["CN"], as_of=RENDER_DAY, content=facts), "zh-CN")
    label_px = label_font_px(req, (W, H), font_path=CJK, face_index=CJK_SC)
    models = FaceModels.load()
    astronaut = face_embedding(data.astronaut(), models)

    with tempfile.TemporaryDirectory(prefix="compliance-bench-") as tmp:
        tmp = Path(tmp)
        engine = create_engine(f"sqlite:///{tmp / 'ledger.db'}")
        people = LikenessRegistry(engine)
        people.add_consent("Model A", astronaut, regions="CN,EU", products="*", expires_on=date(2027, 12, 31), record_ref="release-1")
        rng = np.random.default_rng(0)
        for i in range(20):  # a realistic watch-list size for one brand
            people.add_watch(f"person {i}", rng.standard_normal(128).astype(np.float32) * 0.05, reason="bench", added_by="bench")
        works = ProtectedWorksRegistry(engine)
        for name in ("rocket", "camera", "hubble_deep_field"):
            Image.fromarray(np.atleast_3d(getattr(data, name)())[..., :3].squeeze()).save(tmp / f"{name}.png")
            works.add_work(tmp / f"{name}.png", name, "bench")

        rows = []
        for seconds in (15.0, 7.5):
            path = encode(variant_frames(seconds, req.text, label_px), tmp / f"variant_{seconds:g}s.mp4")
            t_decode, n = timed(lambda: sum(1 for _ in read_clip(path)))
            t_like, like = timed(lambda: check_likeness(path, registry=people, region="CN", sku="SKU-1", as_of=RENDER_DAY,
                                                        ai_generated=True, models=models))
            t_prot, prot = timed(lambda: check_protected(path, works))
            t_label, label = timed(lambda: check_visible_label(path, None, req, font_path=CJK, face_index=CJK_SC))
            assert like.verdict == "pass" and any(f.outcome == "consented" for f in like.faces), like.reasons
            assert not prot.blocked, prot.reasons
            assert label.status == "ok", label.detail
            peer = None
            if not args.no_peer:
                t_peer, (pf, matched) = timed(lambda: peer_likeness(path, models, astronaut))
                peer = (t_peer, pf, matched)
            rows.append((seconds, n, t_decode, t_like, like.frames_checked, t_prot, t_label, label, peer))

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")), platform.processor())
    print(f"machine: {cpu}, nproc {os.cpu_count()}, load average at end {os.getloadavg()[0]:.1f} (shared machine)")
    print(f"clip: {W}x{H} {FPS} fps H.264 CRF 23; ours = 3 checks on the file, each decoding it once\n")
    print("| clip | frames | decode only (s) | likeness (s) | protected works (s) | label (s) | ours total (s) | likeness share | peer likeness (s) | likeness speed-up |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for seconds, n, t_dec, t_like, checked, t_prot, t_label, label, peer in rows:
        total = t_like + t_prot + t_label
        peer_s = f"{peer[0]:.1f} ({peer[1]} frames)" if peer else "skipped"
        speed = f"{peer[0] / t_like:.1f}x" if peer else "-"
        print(f"| {seconds:g} s | {n} | {t_dec:.2f} | {t_like:.2f} ({checked} frames) | {t_prot:.2f} | {t_label:.2f} "
              f"(shown {label.shown_s:.2f} s) | {total:.2f} | {t_like / total:.0%} | {peer_s} | {speed} |")


if __name__ == "__main__":
    main()
