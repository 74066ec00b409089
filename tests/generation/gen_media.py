"""Small real inputs for the generation tests: a public-domain photo and variant specs."""
from __future__ import annotations

import struct
import subprocess
from decimal import Decimal
from pathlib import Path

from PIL import Image
from skimage import data

from foundation.frames import ffmpeg_exe
from generation.compose import format_price
from generation.layout import output_size
from foundation.records import VariantSpec

COPY = {
    "de-DE": ("Kräftiger Röstkaffee für jeden Morgen", Decimal("12.99"), "EUR", "Jetzt kaufen",
              ("Sorgfältig ausgewählte Bohnen", "Kostenloser Versand"), ("AI GENERATED",)),
    "ja-JP": ("香り高い深煎りコーヒー、毎朝の一杯に", Decimal("1480"), "JPY", "今すぐ購入",
              ("厳選された豆を使用", "送料無料でお届け"), ("AI生成",)),
    "zh-CN": ("浓郁深烘咖啡，开启美好早晨", Decimal("98.00"), "CNY", "立即购买",
              ("精选咖啡豆", "全国包邮"), ("AI生成",)),
    "ar-SA": ("قهوة محمصة داكنة بنكهة غنية لكل صباح", Decimal("59.90"), "SAR", "اشترِ الآن",
              ("حبوب مختارة بعناية", "توصيل مجاني"), ("AI GENERATED",)),
}


def coffee_photo(folder: Path) -> Path:
    """skimage's coffee cup (public domain), 600x400: also exercises the non-square path."""
    path = folder / "coffee.png"
    if not path.exists():
        Image.fromarray(data.coffee()).save(path)
    return path


def make_spec(locale: str, aspect: str, short_side: int, **overrides) -> VariantSpec:
    headline, amount, currency, cta, captions, labels = COPY[locale]
    width, height = output_size(aspect, short_side)
    fields = dict(asset_id=f"test-{locale}-{aspect}", sku="COF-1", locale=locale, aspect=aspect, width=width,
                  height=height, headline=headline, price_text=format_price(amount, currency, locale), cta=cta,
                  captions=captions, primary_color="#1F3A5F", secondary_color="#F2A541", text_color="#FFFFFF",
                  font_family="Noto Sans", labels=labels)
    fields.update(overrides)
    return VariantSpec(**fields)


def mp4_boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[str, int, int]]:
    """(type, payload start, box end) of the ISO BMFF boxes between start and end."""
    end = len(data) if end is None else end
    boxes = []
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start:start + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[start + 8:start + 16])[0]
            header = 16
        elif size == 0:
            size = end - start
        if size < header:
            raise ValueError(f"bad box size {size} at {start}")
        boxes.append((kind.decode("latin-1"), start + header, start + size))
        start += size
    return boxes


def mp4_box(data: bytes, path: list[str]) -> tuple[int, int]:
    """(payload start, end) of the first box along `path`, e.g. ["moov", "trak", "mdia"]."""
    start, end = 0, len(data)
    for name in path:
        match = [b for b in mp4_boxes(data, start, end) if b[0] == name]
        if not match:
            raise KeyError(f"no {name} box on path {path}")
        _, start, end = match[0]
    return start, end


def ffmpeg_stream_info(path: Path) -> str:
    """The 'Stream #0:0... Video: ...' line ffmpeg prints for a file (no ffprobe is shipped)."""
    err = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    return next(line for line in err.splitlines() if "Video:" in line)


def music_bed(path: Path, seconds: float, *, volume: float = 0.3, noise: float = 0.1) -> Path:
    """A stereo 44.1 kHz WAV made by ffmpeg: a 330 Hz tone at `volume` under pink noise of amplitude `noise`
    (both 0: digital silence)."""
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}",
                    "-f", "lavfi", "-i", f"anoisesrc=d={seconds}:c=pink:a={noise}", "-filter_complex",
                    f"[0]volume={volume}[t];[1]volume={1 if noise else 0}[n];[t][n]amix=inputs=2:normalize=0",
                    "-ac", "2", "-ar", "44100", str(path)], check=True)
    return path
