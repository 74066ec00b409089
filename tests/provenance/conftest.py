"""Session-wide dev credentials in a temp home, and small real media made with the bundled ffmpeg."""
from pathlib import Path

import pytest

from provenance import Credentials, SigningConfig, load_credentials, sign_file
from provenance_media import ad_spec, make_jpeg, make_mp4


@pytest.fixture(scope="session", autouse=True)
def signing_config(tmp_path_factory) -> SigningConfig:
    """Credentials live in a temp home: tests never write into ~ or the repository."""
    return SigningConfig(home=tmp_path_factory.mktemp("tessera-home"))


@pytest.fixture(scope="session")
def creds(signing_config) -> Credentials:
    return load_credentials(signing_config)


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("media")
    make_mp4(folder / "clip.mp4")
    make_jpeg(folder / "product.jpg")
    return folder


@pytest.fixture(scope="session")
def signed_mp4(media, creds, tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("signed") / "ad.mp4"
    sign_file(media / "clip.mp4", dst, ad_spec(media / "product.jpg"), creds)
    return dst
