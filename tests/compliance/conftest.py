"""Session-wide dev credentials in a temp home and one real signed MP4 (bundled ffmpeg)."""
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest

from audit_media import ASSET_ID
from provenance import Action, Credentials, Ingredient, ManifestSpec, SigningConfig, load_credentials, sign_file


def _ffmpeg(*args: str) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args], check=True)


@pytest.fixture(scope="session", autouse=True)
def signing_config(tmp_path_factory) -> SigningConfig:
    """Credentials live in a temp home: tests never write into ~ or the repository."""
    return SigningConfig(home=tmp_path_factory.mktemp("tessera-home"))


@pytest.fixture(scope="session")
def creds(signing_config) -> Credentials:
    return load_credentials(signing_config)


@pytest.fixture(scope="session")
def media(tmp_path_factory, creds) -> Path:
    folder = tmp_path_factory.mktemp("audit-media")
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=24", "-t", "1", "-c:v", "libx264",
            "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(folder / "unsigned.mp4"))
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120", "-frames:v", "1", str(folder / "product.jpg"))
    spec = ManifestSpec(
        title="ad.mp4", asset_id=ASSET_ID, digital_source_type="compositeWithTrainedAlgorithmicMedia",
        actions=(Action("c2pa.created", "tessera.generation.motion"), Action("c2pa.placed", "tessera.compose")),
        ingredients=(Ingredient(folder / "product.jpg", "product.jpg", "componentOf"),),
    )
    sign_file(folder / "unsigned.mp4", folder / "signed.mp4", spec, creds)
    return folder
