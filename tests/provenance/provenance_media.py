"""Small real media for provenance tests, made with the bundled ffmpeg, and byte surgery on MP4s."""
import subprocess
from pathlib import Path

import imageio_ffmpeg

from provenance import Action, Ingredient, ManifestSpec

COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"


def make_mp4(path: Path) -> Path:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi",
                    "-i", "testsrc=size=320x240:rate=24", "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-movflags", "+faststart", str(path)], check=True)
    return path


def make_jpeg(path: Path) -> Path:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi",
                    "-i", "testsrc=size=160x120", "-frames:v", "1", str(path)], check=True)
    return path


def ad_spec(photo: Path, asset_id: str = "tsr-test-0001") -> ManifestSpec:
    return ManifestSpec(
        title="ad-de-DE-9x16.mp4",
        asset_id=asset_id,
        digital_source_type="compositeWithTrainedAlgorithmicMedia",
        actions=(
            Action("c2pa.created", "tessera.generation.motion", parameters_json='{"seed": 7}'),
            Action("c2pa.placed", "tessera.generation.compose"),
        ),
        ingredients=(Ingredient(photo, "product.jpg", "componentOf"),),
    )


def mdat_middle(path: Path) -> int:
    """Offset of the middle byte of the top-level mdat payload (the encoded frames)."""
    data = path.read_bytes()
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        if data[pos + 4:pos + 8] == b"mdat":
            return pos + 8 + (size - 8) // 2
        pos += size
    raise AssertionError(f"{path}: no mdat box")


def flip_byte(src: Path, dst: Path, offset: int) -> Path:
    data = bytearray(src.read_bytes())
    data[offset] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst
