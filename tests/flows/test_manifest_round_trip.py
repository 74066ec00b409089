"""Every value Tessera writes into a signed variant manifest reads back as written, through c2pa-python
and through an independent reader (TrustNXT's pure TypeScript c2pa-ts, tests/c2pa_ts, installed by
`make test` (make c2pa-reader); nothing is downloaded here).

c2pa-python 0.38 reads arrays of numbers back wrong (contentauth/c2pa-rs#2570: [1280, 720] reads back
"ANA=", floats as ""), so sizes are written as {"width", "height"} and points as {"x", "y"};
provenance.manifest refuses any other array of numbers, and the one byte string the C2PA
specification defines for us (the soft binding's pad) reads back from c2pa-python as the base64 of
its bytes (c2pa-ts reads the array c2pa stored).
"""
import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

import provenance.manifest as signing
from flow_catalogs import small_catalog
from flows.render import run_render
from foundation.frames import probe
from generation.plan import RenderOptions
from pipeline.settings import Settings
from provenance import read_c2pa
from provenance.manifest import BYTE_STRING_FIELDS, SigningError, manifest_definition
from provenance.spec import Action, ManifestSpec

pytestmark = pytest.mark.slow   # whole renders or many CLI processes: `make test-fast` leaves them out

READER_DIR = Path(__file__).resolve().parents[1] / "c2pa_ts"
CONSUMED = {"ingredientIds"}     # c2pa turns these into hashed `ingredients` links: not read back by name


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    """A real render (motion backend, de-DE and zh-CN) with the definition of every manifest it signed."""
    root = tmp_path_factory.mktemp("roundtrip")
    catalog = small_catalog(root / "catalog", locales=("de-DE", "zh-CN"), aspects="16:9")
    settings = Settings.build(home=root / "home", options=RenderOptions(short_side=240))
    written: dict[str, dict] = {}
    with pytest.MonkeyPatch.context() as mp:
        def recording(spec, mime):
            definition = manifest_definition(spec, mime)
            written[spec.title] = definition
            return definition
        mp.setattr(signing, "manifest_definition", recording)
        assert run_render(catalog, root / "out", settings).failed == 0
    files = sorted((root / "out").rglob("*.mp4"))
    assert len(files) == 2 and {f.name for f in files} <= set(written)
    return settings, files, written


def _expect(wrote, read, where, label, key=None, *, bytes_as=lambda wrote: base64.b64encode(bytes(wrote)).decode()):
    """Assert that `read` holds what `wrote` wrote (a reader may add keys c2pa writes, never change ours)."""
    if isinstance(wrote, dict):
        assert isinstance(read, dict), f"{where}: wrote an object, read {read!r}"
        for k, v in wrote.items():
            if k in CONSUMED:
                continue
            assert k in read, f"{where}.{k}: written, not read back"
            _expect(v, read[k], f"{where}.{k}", label, k, bytes_as=bytes_as)
    elif isinstance(wrote, list) and (label, key) in BYTE_STRING_FIELDS:
        assert read == bytes_as(wrote), f"{where}: {wrote!r} read {read!r}"
    elif isinstance(wrote, list):
        assert isinstance(read, list) and len(read) == len(wrote), f"{where}: wrote {wrote!r}, read {read!r}"
        for i, (w, r) in enumerate(zip(wrote, read)):
            _expect(w, r, f"{where}[{i}]", label, bytes_as=bytes_as)
    else:
        assert read == wrote and type(read) is type(wrote) or (
            isinstance(wrote, (int, float)) and not isinstance(wrote, bool) and read == wrote), \
            f"{where}: wrote {wrote!r}, read {read!r}"


def _written_assertions(definition):
    return [(a["label"], a["data"]) for a in definition["assertions"]]


def _by_label(pairs, label):
    found = [data for name, data in pairs if name == label]
    assert len(found) == 1, f"{label}: {len(found)} assertions read back"
    return found[0]


def test_every_written_value_reads_back_through_c2pa_python(signed):
    settings, files, written = signed
    for f in files:
        report = read_c2pa(f, None)
        assert report.state in ("Valid", "Trusted"), report.codes
        for label, data in _written_assertions(written[f.name]):
            _expect(data, _by_label(report.assertions, label), f"{f.name} {label}", label)


def test_the_signed_size_is_the_files_own_size(signed):
    _, files, _ = signed
    for f in files:
        w, h, _ = probe(f)
        sizes = [a.parameters["size"] for a in read_c2pa(f, None).actions if isinstance(a.parameters.get("size"), dict)]
        assert sizes == [{"width": w, "height": h}]


def test_every_written_value_reads_back_through_an_independent_reader(signed):
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the independent reader (@trustnxt/c2pa-ts) runs on Node.js "
                    "(make test installs nodejs and npm with apt)")
    if not (READER_DIR / "node_modules" / "@trustnxt" / "c2pa-ts").is_dir():
        pytest.fail(f"the independent reader is not installed: run `make c2pa-reader` (npm install in {READER_DIR})")
    _, files, written = signed
    for f in files:
        out = subprocess.run(["node", str(READER_DIR / "read_manifest.mjs"), str(f)], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        store = json.loads(out.stdout)
        assert store["active_manifest"] == read_c2pa(f, None).active_label
        for label, data in _written_assertions(written[f.name]):
            _expect(data, _by_label(store["assertions"], label), f"{f.name} {label} (c2pa-ts)", label,
                    bytes_as=lambda wrote: wrote)   # c2pa stores the pad as the array written


def test_an_array_of_numbers_is_refused_before_signing():
    spec = ManifestSpec(title="x.mp4", asset_id="a1", digital_source_type="digitalCapture",
                        actions=(Action("c2pa.created", "Tessera", parameters_json='{"size": [1280, 720]}'),))
    with pytest.raises(SigningError, match=r"parameters\.size = \[1280, 720\]: an array of numbers"):
        manifest_definition(spec, "video/mp4")
    nested = ManifestSpec(title="x.mp4", asset_id="a1", digital_source_type="digitalCapture",
                          actions=(Action("c2pa.created", "Tessera"),),
                          assertions=(("com.example", '{"boxes": [{"xy": [0.5, 2]}]}'),))
    with pytest.raises(SigningError, match=r"com\.example\.boxes\[0\]\.xy"):
        manifest_definition(nested, "video/mp4")
