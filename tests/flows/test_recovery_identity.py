"""Identity comes from the watermark, fingerprints only give candidates.

Locale siblings share the picture and differ in their text: a stripped copy of each must be
recovered as itself, never as a sibling. A look-alike made outside the pipeline from the same
product photo is never recovered or attributed to us, however close its fingerprints are.
"""
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFont

from flow_catalogs import SAMPLE, small_catalog
from flows.cli import cli
from flows.render import run_render
from foundation.frames import probe
from foundation.primitives import sha256_file
from generation import ffmpeg_exe
from generation.fonts import font_for_locale
from generation.plan import RenderOptions
from pipeline.settings import Settings
from provenance.ledger import Ledger
from provenance.recover import SIMILAR_NOTE

pytestmark = pytest.mark.slow        # renders 8 variants of one product (4 locales x 2 layouts)

LOCALES = ("en-US", "de-DE", "es-MX", "ja-JP")


@pytest.fixture(scope="module")
def siblings(tmp_path_factory):
    root = tmp_path_factory.mktemp("siblings")
    catalog = small_catalog(root / "catalog", locales=LOCALES, aspects="1:1;16:9", duration_s="2")
    settings = Settings.build(home=root / "home", options=RenderOptions(short_side=288))
    summary = run_render(catalog, root / "out", settings)
    assert summary.failed == 0 and summary.rendered == len(LOCALES) * 2
    return root, settings, sorted((root / "out").rglob("*.mp4"))


def _audit(settings, *paths: Path) -> list[dict]:
    result = CliRunner().invoke(cli, ["audit", "--json", "--home", str(settings.home), *map(str, paths)])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)


def test_every_stripped_sibling_is_recovered_as_itself(siblings, tmp_path):
    _, settings, files = siblings
    ledger = Ledger(settings.ledger_url)
    expected = {}
    for f in files:
        copy = tmp_path / f.name
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(f), "-map", "0:v", "-c", "copy",
                        "-map_metadata", "-1", str(copy)], check=True)
        expected[str(copy)] = ledger.asset_id_for_sha256(sha256_file(f))
    rows = _audit(settings, tmp_path)
    assert len(rows) == len(files) == len(set(expected.values()))
    for row in rows:
        want = expected[row["path"]]
        assert row["c2pa_state"] == "absent" and row["recovered"] is True, row["problems"]
        assert row["recovery"]["asset_id"] == want, f"{row['path']} recovered as a sibling"
        # The fingerprints agree, and rank the copy's own asset first among its look-alikes.
        assert row["fingerprint_match"]["asset_id"] == want and row["fingerprint_match"]["rank"] == 1
        assert row["similar_to"] == []


def _pan_with_own_plates(path: Path, width: int, height: int, fps: int, seconds: float) -> None:
    """A 16:9 ad made without Tessera: the same product photo pushed in on the left, the brand's
    colour on the right, plates of its own copy and price drawn with PIL, encoded by ffmpeg."""
    photo = Image.open(SAMPLE / "photos" / "coffee.jpg").convert("RGB")
    side = min(photo.size)
    font = ImageFont.truetype(str(font_for_locale("en-US").faces[0].path), size=height // 11)
    n = round(fps * seconds)
    proc = subprocess.Popen([ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                             "-s", f"{width}x{height}", "-r", str(fps), "-i", "pipe:", "-c:v", "libx264",
                             "-crf", "23", "-pix_fmt", "yuv420p", str(path)], stdin=subprocess.PIPE)
    for i in range(n):
        t = i / max(1, n - 1)
        crop = side / (1.04 + 0.16 * t)                       # push-in from 1.04x to 1.2x
        x0 = (photo.width - crop) / 2 + 0.03 * side * (t - 0.5)  # with a slight drift
        y0 = (photo.height - crop) / 2
        clip = photo.crop((round(x0), round(y0), round(x0 + crop), round(y0 + crop))).resize((height, height))
        frame = Image.new("RGB", (width, height), "#0F4C5C")
        frame.paste(clip, (0, 0))
        draw = ImageDraw.Draw(frame)
        for k, text in enumerate(("Fresh Roast Beans", "$19.90", "Buy today")):
            y = round(height * (0.18 + 0.25 * k))
            draw.rounded_rectangle((round(width * 0.6), y, round(width * 0.95), y + height // 7), radius=4,
                                   fill="#E36414" if k == 2 else "#0F4C5C")
            draw.text((round(width * 0.62), y + 4), text, font=font, fill="#FFFFFF")
        proc.stdin.write(np.asarray(frame).tobytes())
    proc.stdin.close()
    assert proc.wait() == 0


def test_a_near_duplicate_and_a_slideshow_of_our_photo_are_neither_recovered_nor_attributed(siblings, tmp_path):
    _, settings, files = siblings
    ours = next(f for f in files if f.name.endswith("_en-US_16x9.mp4"))
    width, height, fps = probe(ours)
    near = tmp_path / "near_duplicate.mp4"
    _pan_with_own_plates(near, width, height, round(fps), seconds=2)
    slideshow = tmp_path / "slideshow.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-loop", "1", "-t", "2", "-i", str(SAMPLE / "photos" / "coffee.jpg"),
                    "-vf", f"scale={width}:{height},format=yuv420p", "-r", str(round(fps)), "-c:v", "libx264",
                    str(slideshow)], check=True)
    rows = _audit(settings, near, slideshow)
    assert [Path(r["path"]).name for r in rows] == ["near_duplicate.mp4", "slideshow.mp4"]
    for row in rows:
        assert row["recovered"] is False and row["recovery"] is None, row
        assert row["asset_id"] is None and row["signer"] is None and row["fingerprint_match"] is None
        assert row["watermark"]["found"] is False
        # Look-alikes may be listed, as candidates that prove nothing.
        for candidate in row["similar_to"]:
            assert candidate["note"] == SIMILAR_NOTE and candidate["distance"] <= 10
        if row["similar_to"]:
            assert any(p.startswith(SIMILAR_NOTE) for p in row["problems"])
    table = CliRunner().invoke(cli, ["audit", "--home", str(settings.home), str(near), str(slideshow)]).output
    assert "(recovered)" not in table and "Tessera" not in table
