"""Compliance gate cost per variant on this machine, against checking every variant file on its own.

One product (the public-domain astronaut photo, so the face pass has a face to embed) becomes a
motion base clip at 720 px, 24 fps; from it 9 variants (3 locales x 3 aspect ratios, as in the
sample catalog) are rendered per rule profile, as AI content: for China ("AI生成" from the start for
2 s and the AIGC metadata) and for India (G.S.R. 120(E): "AI GENERATED" for the whole duration and
the metadata with a unique id). Registries: the astronaut with a consent for CN and IN, 20 random
watch-list entries, 3 protected works.

  ours  = assess_base_clip once per base clip (faces, embeddings, protected works from one decode)
          + per variant: decide + verify_shipped (metadata read back; the label on the first seconds
          for CN, on the whole clip for IN)
  peer  = the per-variant path of benchmarks/compliance_bench.py: check_likeness, check_protected
          and check_visible_label each on every encoded variant file (each decoding it)

Target: compliance time per variant < half the clip duration. Prints a markdown table, with the CPU time
of our checks next to their wall time (on a shared machine the wall time includes waiting for a core).

    .venv/bin/python benchmarks/gate_bench.py [--seconds 6 15] [--variants 9] [--profiles CN IN]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data
from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compliance import apply_labels, assess_base_clip, decide, open_registries, verify_shipped  # noqa: E402
from compliance.labels import check_visible_label  # noqa: E402
from compliance.likeness import FaceModels, check_likeness, face_embedding  # noqa: E402
from compliance.protected_works import check_protected  # noqa: E402
from generation.compose import format_price, label_face, render_variant  # noqa: E402
from generation.layout import output_size  # noqa: E402
from generation.motion import make_base_clip  # noqa: E402
from foundation.records import VariantSpec  # noqa: E402

SHORT, FPS = 720, 24
ON = date(2026, 9, 1)
PROFILES = {"CN": ("CN", "zh"), "IN": ("IN", "en")}   # profile -> (region, language of its label)
ASPECTS = ("9:16", "1:1", "16:9")
COPY = {"zh-CN": ("浓郁深烘咖啡，开启美好早晨", "立即购买"), "en-US": ("Espresso worth waking up for", "Shop now"),
        "de-DE": ("Espresso mit perfekter Crema", "Jetzt kaufen")}


def spec(locale: str, aspect: str, asset_id: str) -> VariantSpec:
    w, h = output_size(aspect, SHORT)
    headline, cta = COPY[locale]
    return VariantSpec(asset_id=asset_id, sku="SKU-1", locale=locale, aspect=aspect, width=w, height=h,
                       headline=headline, price_text=format_price(98, "CNY", "zh-CN"), cta=cta, captions=(),
                       primary_color="#0F4C5C", secondary_color="#E36414", text_color="#FFFFFF", font_family="Noto Sans")


def cpu_s() -> float:
    """CPU seconds of this process and its finished children (the ffmpeg decoders and encoders)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(fn):
    """(wall seconds, CPU seconds, result) of fn(): on a shared machine the CPU time is the steadier figure."""
    t, c = time.perf_counter(), cpu_s()
    out = fn()
    return time.perf_counter() - t, cpu_s() - c, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, nargs="+", default=[6.0, 15.0], help="clip durations")
    ap.add_argument("--variants", type=int, default=9, help="variants per base clip (max 9)")
    ap.add_argument("--no-peer", action="store_true", help="skip the per-variant-file peer")
    ap.add_argument("--profiles", nargs="+", default=["CN", "IN"], choices=sorted(PROFILES), help="rule profiles")
    args = ap.parse_args()
    models = FaceModels.load()
    rows = []
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as tmp:
        tmp = Path(tmp)
        Image.fromarray(data.astronaut()).save(tmp / "astronaut.png")
        reg = open_registries(create_engine(f"sqlite:///{tmp / 'ledger.db'}"))
        reg.likeness.add_consent("Model A", face_embedding(data.astronaut(), models), regions="CN,IN", products="*",
                                 expires_on=date(2027, 12, 31), record_ref="release-1")
        rng = np.random.default_rng(0)
        for i in range(20):
            reg.likeness.add_watch(f"person {i}", rng.standard_normal(128).astype(np.float32) * 0.05, reason="bench",
                                   added_by="bench")
        for name in ("rocket", "camera", "hubble_deep_field"):
            Image.fromarray(np.atleast_3d(getattr(data, name)())[..., :3].squeeze()).save(tmp / f"{name}.png")
            reg.protected.add_work(tmp / f"{name}.png", name, "bench")

        jobs = [(loc, asp) for loc in COPY for asp in ASPECTS][: args.variants]
        for seconds, profile in [(s, p) for s in args.seconds for p in args.profiles]:
            region, language = PROFILES[profile]
            base = make_base_clip(tmp / "astronaut.png", cache_dir=tmp / "clips", size=SHORT, fps=FPS,
                                  duration_s=seconds, seed=0)
            t_assess, c_assess, a = timed(lambda: assess_base_clip(base, registries=reg, models=models))
            t_decide = t_verify = t_render = c_checks = 0.0
            files = []
            for i, (locale, aspect) in enumerate(jobs):
                dt, dc, d = timed(lambda: decide(a, region_profile=profile, region=region, language=language, sku="SKU-1",
                                             as_of=ON, ai_generated=True, photoreal_objects_or_scenes=True,
                                             advertising=True, asset_id=f"tsr-bench-{i}", provider="Bench",
                                             system="Tessera", system_version="0.1.0"))
                t_decide += dt
                c_checks += dc
                assert d.verdict == "pass", d.reasons
                s = apply_labels(spec(locale, aspect, d.asset_id), d)
                path = tmp / f"v{seconds:g}-{profile}-{i}.mp4"
                dt, _, _ = timed(lambda: render_variant(base, s, path, metadata=d.mp4_metadata))
                t_render += dt
                dt, dc, v = timed(lambda: verify_shipped(path, d, spec=s))
                t_verify += dt
                c_checks += dc
                assert v.verdict == "pass", v.reasons
                files.append((path, d, s))
            n = len(jobs)
            ours = t_assess / n + (t_decide + t_verify) / n
            ours_cpu = (c_assess + c_checks) / n
            peer = None
            if not args.no_peer:
                path, d, s = files[0]   # one variant file is enough: the peer's cost is per file
                face = label_face(s)
                t_l, _, _ = timed(lambda: check_likeness(path, registry=reg.likeness, region=region, sku="SKU-1", as_of=ON,
                                                      ai_generated=True, models=models))
                t_p, _, _ = timed(lambda: check_protected(path, reg.protected))
                t_v, _, _ = timed(lambda: check_visible_label(path, None, d.labels[0], font_path=face.path,
                                                           face_index=face.index))
                peer = t_l + t_p + t_v
            rows.append((seconds, profile, n, a.frames_checked, t_assess, t_decide / n, t_verify / n, ours, ours_cpu, peer,
                         t_render / n))

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    print(f"machine: {cpu}, nproc {os.cpu_count()}, load average at end {os.getloadavg()[0]:.1f} (shared machine)")
    print(f"base clip {SHORT}x{SHORT} {FPS} fps (motion, astronaut photo); variants zh-CN/en-US/de-DE x 9:16/1:1/16:9 "
          f"as AI content, H.264 CRF 20\n")
    print("| clip | profile | variants | assess once (s, frames) | decide / variant (ms) | verify / variant (s) | "
          "ours / variant (s) | share of clip | ours CPU / variant (s) | CPU share of clip | peer / variant (s) | "
          "speed-up | compose+encode / variant (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for seconds, profile, n, frames, t_a, t_d, t_v, ours, ours_cpu, peer, t_r in rows:
        peer_s = f"{peer:.2f}" if peer is not None else "skipped"
        speed = f"{peer / ours:.1f}x" if peer is not None else "-"
        print(f"| {seconds:g} s | {profile} | {n} | {t_a:.2f} ({frames}) | {t_d * 1000:.1f} | {t_v:.2f} | {ours:.2f} | "
              f"{ours / seconds:.0%} | {ours_cpu:.2f} | {ours_cpu / seconds:.0%} | {peer_s} | {speed} | {t_r:.2f} |")


if __name__ == "__main__":
    main()
