// An independent C2PA reader (TrustNXT's pure TypeScript c2pa-ts, not c2pa-rs) for the round-trip test:
// prints {"active_manifest": label, "assertions": [[label, data], ...], "validation": {...}} for one MP4.
// Assertion data is each assertion box's own CBOR (or JSON) content, decoded by cbor-x: byte strings
// come out as {"$bytes": base64} so that a test can tell them from arrays and strings.
import * as fs from 'node:fs/promises';
import { BMFF } from '@trustnxt/c2pa-ts/asset';
import { SuperBox } from '@trustnxt/c2pa-ts/jumbf';
import { ManifestStore } from '@trustnxt/c2pa-ts/manifest';

// c2pa-ts reads BMFF only for HEIF brands; our files are MP4 (the box layout and C2PA uuid box are the same).
for (const brand of ['isom', 'iso2', 'iso4', 'iso5', 'iso6', 'mp41', 'mp42', 'avc1', 'dash']) BMFF.canReadBrands.add(brand);

function plain(value) {
    if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
    if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), plain(v)]));
    if (Array.isArray(value)) return value.map(plain);
    if (value instanceof Date) return value.toISOString();
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
    return value;
}

const buf = new Uint8Array(await fs.readFile(process.argv[2]));
if (!BMFF.canRead(buf)) throw new Error(`${process.argv[2]}: not a BMFF file c2pa-ts can read`);
const asset = new BMFF(buf);
const jumbf = asset.getManifestJUMBF();
if (!jumbf) throw new Error(`${process.argv[2]}: no C2PA manifest store`);
const store = ManifestStore.read(SuperBox.fromBuffer(jumbf));
const manifest = store.getActiveManifest();
if (!manifest) throw new Error(`${process.argv[2]}: no active manifest`);
const assertions = [];
for (const assertion of manifest.assertions?.assertions ?? []) {
    const box = assertion.sourceBox?.contentBoxes?.[0];
    assertions.push([assertion.fullLabel ?? assertion.label, box && 'content' in box ? plain(box.content) : null]);
}
const validation = await store.validate(asset);
console.log(JSON.stringify({
    active_manifest: manifest.label,
    assertions,
    validation: { valid: validation.isValid, codes: validation.statusEntries.map(e => e.code) },
}));
