"""Signing a real MP4: the manifest says what happened, reads back Trusted, and fails closed."""
import dataclasses
import io
import json
from datetime import datetime, timedelta, timezone

import c2pa
import numpy as np
import pytest
from PIL import Image

from provenance_media import COMPOSITE, ad_spec
from provenance import (Action, Ingredient, ManifestSpec, SigningConfig, SigningError, load_credentials, read_c2pa,
                        sign_file)
from provenance.reader import VARIANT_LABEL, c2pa_settings


def _active(manifest_json: str) -> dict:
    store = json.loads(manifest_json)
    return store["manifests"][store["active_manifest"]]


def test_signed_mp4_reads_trusted_with_our_anchors(signed_mp4, creds):
    report = read_c2pa(signed_mp4, creds.anchors_pem)
    assert report.state == "Trusted"
    assert report.codes == ()
    assert report.asset_id == "tsr-test-0001"
    assert report.digital_source_type == COMPOSITE
    assert report.signer == creds.signer_name == "Tessera Development"
    assert report.active_label.startswith("urn:c2pa:")
    assert report.error is None


def test_manifest_records_generator_actions_ingredient_and_asset_id(signed_mp4, creds):
    active = _active(read_c2pa(signed_mp4, creds.anchors_pem).manifest_json)
    assert active["claim_generator_info"][0]["name"] == "Tessera"
    assert active["claim_generator_info"][0]["version"] == "0.1.0"
    assert active["title"] == "ad-de-DE-9x16.mp4"
    [ingredient] = active["ingredients"]
    assert (ingredient["title"], ingredient["format"], ingredient["relationship"]) == (
        "product.jpg", "image/jpeg", "componentOf")
    assertions = {a["label"]: a["data"] for a in active["assertions"]}
    created, placed = assertions["c2pa.actions.v2"]["actions"]
    assert created == {"action": "c2pa.created", "softwareAgent": {"name": "tessera.generation.motion"},
                       "digitalSourceType": COMPOSITE, "parameters": {"seed": 7}}
    assert placed["action"] == "c2pa.placed"
    # the placed action points at the product photo ingredient
    assert placed["parameters"]["ingredients"][0]["url"].endswith("c2pa.ingredient.v3")
    assert assertions[VARIANT_LABEL] == {"asset_id": "tsr-test-0001"}


def test_sign_file_returns_the_label_and_json_of_the_signed_file(media, creds, tmp_path):
    spec = dataclasses.replace(ad_spec(media / "product.jpg", "tsr-ret"),
                               assertions=((VARIANT_LABEL, '{"locale": "de-DE"}'), ("com.example.note", '{"n": 1}')))
    signed = sign_file(media / "clip.mp4", tmp_path / "out" / "ad.mp4", spec, creds)
    report = read_c2pa(tmp_path / "out" / "ad.mp4", creds.anchors_pem)
    assert signed.label == report.active_label
    assert _active(signed.manifest_json)["label"] == signed.label
    assertions = {a["label"]: a["data"] for a in _active(signed.manifest_json)["assertions"]}
    assert assertions[VARIANT_LABEL] == {"locale": "de-DE", "asset_id": "tsr-ret"}
    assert assertions["com.example.note"] == {"n": 1}
    assert (tmp_path / "out" / "ad.mp4").stat().st_mode & 0o777 == 0o644


def _ingredient_thumbnail(path, anchors_pem) -> Image.Image:
    """The first ingredient's thumbnail in the active manifest of a signed file, decoded."""
    with c2pa.Context.from_dict(c2pa_settings(anchors_pem)) as ctx, open(path, "rb") as stream, \
            c2pa.Reader("video/mp4", stream, None, ctx) as reader:
        thumb = _active(reader.json())["ingredients"][0]["thumbnail"]
        assert thumb["format"] == "image/jpeg"
        out = io.BytesIO()
        reader.resource_to_stream(thumb["identifier"], out)
    return Image.open(io.BytesIO(out.getvalue()))


def test_image_ingredient_carries_a_thumbnail_of_the_photo_at_its_own_size(signed_mp4, media, creds):
    """Not enlarged (c2pa's own would be 1024 px wide for every variant), and it is the photo."""
    thumb = _ingredient_thumbnail(signed_mp4, creds.anchors_pem)
    photo = Image.open(media / "product.jpg")
    assert (thumb.format, thumb.size) == ("JPEG", photo.size)
    diff = np.abs(np.asarray(thumb.convert("RGB"), np.int16) - np.asarray(photo.convert("RGB"), np.int16))
    assert diff.mean() < 10          # JPEG re-encoding of a sharp test card; another image is ~60


def test_large_transparent_photo_gets_a_1024_px_thumbnail_flattened_on_white(media, creds, tmp_path):
    rgba = np.zeros((1000, 2000, 4), np.uint8)
    rgba[:, :1000] = (200, 30, 30, 255)            # left half opaque red, right half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cutout.png")
    spec = dataclasses.replace(ad_spec(tmp_path / "cutout.png", "tsr-png"),
                               ingredients=(Ingredient(tmp_path / "cutout.png", "cutout.png", "componentOf"),))
    sign_file(media / "clip.mp4", tmp_path / "ad.mp4", spec, creds)
    thumb = np.asarray(_ingredient_thumbnail(tmp_path / "ad.mp4", creds.anchors_pem).convert("RGB"), np.int16)
    assert thumb.shape == (512, 1024, 3)
    assert np.abs(thumb[:, :500] - (200, 30, 30)).max() < 12
    assert np.abs(thumb[:, 524:] - 255).max() < 12


def test_without_anchors_the_signature_is_valid_but_untrusted(signed_mp4):
    report = read_c2pa(signed_mp4, None)
    assert report.state == "Valid"
    assert report.codes == ("signingCredential.untrusted",)
    assert report.asset_id == "tsr-test-0001"


def test_opened_action_links_the_parent_ingredient(signed_mp4, creds, tmp_path):
    spec = ManifestSpec(title="edit.mp4", asset_id="tsr-edit", digital_source_type="trainedAlgorithmicMedia",
                        actions=(Action("c2pa.opened", "tessera.edit"),),
                        ingredients=(dataclasses.replace(ad_spec(signed_mp4).ingredients[0], path=signed_mp4,
                                                         title="ad.mp4", relationship="parentOf"),))
    sign_file(signed_mp4, tmp_path / "edit.mp4", spec, creds)
    report = read_c2pa(tmp_path / "edit.mp4", creds.anchors_pem)
    assert (report.state, report.asset_id) == ("Trusted", "tsr-edit")
    active = _active(report.manifest_json)
    [opened] = next(a["data"]["actions"] for a in active["assertions"] if a["label"] == "c2pa.actions.v2")
    assert opened["parameters"]["ingredients"][0]["url"].endswith("c2pa.ingredient.v3")
    assert active["ingredients"][0]["relationship"] == "parentOf"


def test_a_signing_failure_leaves_no_destination_file(media, creds, tmp_path):
    not_video = tmp_path / "notes.mp4"
    not_video.write_bytes(b"this is not an mp4 at all" * 100)
    dst = tmp_path / "out" / "ad.mp4"
    with pytest.raises(SigningError, match=rf"cannot sign {not_video}: "):
        sign_file(not_video, dst, ad_spec(media / "product.jpg"), creds)
    assert list((tmp_path / "out").iterdir()) == []
    # an existing destination is left exactly as it was
    dst.write_bytes(b"previous good file")
    with pytest.raises(SigningError):
        sign_file(not_video, dst, ad_spec(media / "product.jpg"), creds)
    assert dst.read_bytes() == b"previous good file"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["ad.mp4"]


def test_expired_credentials_never_sign(media, creds, tmp_path):
    expired = dataclasses.replace(creds, not_after=datetime.now(timezone.utc) - timedelta(days=1))
    with pytest.raises(SigningError, match="signing certificate expired"):
        sign_file(media / "clip.mp4", tmp_path / "ad.mp4", ad_spec(media / "product.jpg"), expired)
    assert not (tmp_path / "ad.mp4").exists()


@pytest.mark.parametrize("change, message", [
    ({"actions": (Action("c2pa.edited", "x"),)}, "first action must be one of"),
    ({"actions": ()}, "first action must be one of"),
    ({"actions": (Action("c2pa.created", "x", parameters_json="{oops"),)}, "parameters: invalid JSON"),
    ({"actions": (Action("c2pa.created", "x", digital_source_type="digitalCapture"),)}, "contradicts"),
    ({"actions": (Action("c2pa.opened", "x"),)}, "needs a parentOf ingredient"),
    ({"actions": (Action("c2pa.opened", "x", parameters_json='{"ingredient": "product.jpg"}'),)},
     "parameters.ingredient is reserved by C2PA"),
    ({"asset_id": ""}, "asset_id is empty"),
    ({"assertions": ((VARIANT_LABEL, '{"asset_id": "someone-else"}'),)}, "must be an object whose asset_id"),
    ({"assertions": (("c2pa.actions", '{"actions": []}'),)}, "actions come from spec.actions"),
])
def test_a_spec_that_would_lie_or_break_is_refused(media, creds, tmp_path, change, message):
    spec = dataclasses.replace(ad_spec(media / "product.jpg"), **change)
    with pytest.raises(SigningError, match=message):
        sign_file(media / "clip.mp4", tmp_path / "ad.mp4", spec, creds)
    assert list(tmp_path.iterdir()) == []


def test_bad_ingredient_relationship_is_refused(media, creds, tmp_path):
    spec = ad_spec(media / "product.jpg")
    spec = dataclasses.replace(spec, ingredients=(dataclasses.replace(spec.ingredients[0], relationship="friendOf"),))
    with pytest.raises(SigningError, match="relationship 'friendOf'"):
        sign_file(media / "clip.mp4", tmp_path / "ad.mp4", spec, creds)


def test_a_chain_that_does_not_reach_the_configured_anchors_is_refused(media, creds, tmp_path):
    other_root = load_credentials(SigningConfig(home=tmp_path / "other")).anchors_pem
    with pytest.raises(SigningError, match="signed copy reads Valid signingCredential.untrusted"):
        sign_file(media / "clip.mp4", tmp_path / "ad.mp4", ad_spec(media / "product.jpg"),
                  dataclasses.replace(creds, anchors_pem=other_root))
    assert not (tmp_path / "ad.mp4").exists()
