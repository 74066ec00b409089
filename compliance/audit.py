"""Audit any media files, ours or not: content credentials, signer, ledger record, verdict.

Verdict policy (one verdict per file; `problems` says why in plain words):

| C2PA state | verdict | problem |
| --- | --- | --- |
| Trusted | pass | - |
| Valid (only signingCredential.untrusted) | warn | signer not in trust list |
| Invalid | fail | one per status code, e.g. "assertion.dataHash.mismatch: content changed after signing" |
| absent | warn | no content credentials |
| error (unreadable, hostile, unsupported) | fail | the reader's message |

Ledger cross-check, when a `lookup` (sha256 -> our asset id) is given: a manifest
that claims one of our asset ids (com.tessera.variant) for a file whose sha256 the
ledger does not know is a problem and lowers pass to warn (signed by us, but not a
file we recorded: re-encoded, or a claim copied onto other bytes). A ledger record
whose asset id differs from the one the manifest claims is a contradiction in our
own records: fail. Without a lookup no ledger check is made and in_ledger is false.

Path check, when a `placement` (the ledger's path_record) is given: the file's resolved path
and sha256 are compared with the rows recorded at that path and for that content (`location`):

| the file | location | verdict | problem |
| --- | --- | --- | --- |
| at a recorded path, the recorded bytes | recorded | - | - |
| at a path recorded for one asset, bytes of another asset of ours | swapped | fail | "swapped: ... the ledger records this content (asset X) at P" |
| at a recorded path, bytes the ledger does not record there | replaced | fail | "replaced: ... not the file the ledger records at this path" |
| ours, at an unrecorded path inside a recorded output folder | moved | warn | "moved: the ledger records this content (asset X) at P" |
| ours, outside every recorded output folder (a delivered copy) | copy | - | - (recorded_path says where the original is) |

A file at a path the ledger records is what the ledger says, or the record is contradicted
(fail, like a manifest claiming another asset). A signed file of ours copied out of the output
folder (to a delivery folder, a download) is a faithful copy and keeps its verdict; inside an
output folder an unrecorded name for our content is worth a look (warn).

Region labels, when a rule profile is known for a file (`region=`, else `profile_lookup(asset
id)` -- the profile our ledger recorded --, else the profile our own compliance assertion
records in a valid manifest): every rule of that profile in force on `as_of` gets a status in
`labels` -- ok, missing, too_small, too_short or not_applicable -- checked on the file itself
(visible labels on decoded frames, MP4 metadata, C2PA parts; see compliance.verify).
Whether a rule applies follows what the file is:

| what we know | from | rules |
| --- | --- | --- |
| all content facts | our com.tessera.compliance assertion (valid manifest) | applicable ones checked, others not_applicable; a failed check fails the file |
| AI or not | the manifest's IPTC digital source type, else an AIGC item | not AI: all not_applicable; AI: any-AI rules checked (fail), rules about people checked, a failed one warns (cannot tell whether it applies) |
| nothing | - | every rule checked; a failed one warns |

Without a known profile no label check is made: `region` is None and `labels` empty.

Every entry gets a row, and every row comes within a limit:

| entry | row |
| --- | --- |
| regular media file | its audit, run in a child process with a time and memory limit (`limits`); exceeding one is `fail` with the limit named |
| FIFO, socket, device, a link to one | `fail`: "not a regular file (...): not opened" (opening a FIFO or /dev/zero blocks or never ends) |
| symlink loop, broken symlink | `fail`, naming the problem |
| a folder that cannot be listed | `fail`: "cannot list folder: ..." (its files would otherwise vanish from the count) |
| a symlink to a folder | `warn`: not followed (links can loop or leave the tree) |

Files with other extensions (README.md, .csv) are not media and get no row.

`exit_code` is 0 when no file fails (warnings do not fail an audit), 1 otherwise.
"""
from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from compliance.decide import AI_SOURCE_TYPES, COMPLIANCE_LABEL, GateError, profile_for
from compliance.mp4meta import Mp4MetaError, metadata_items
from compliance.rules import DEFAULT_RULES_DIR, ContentFacts, applicable_rules, known_profiles
from compliance.verify import check_rules_on_file
from foundation.frames import ClipError
from foundation.limits import Limits, run_limited
from provenance.reader import MEDIA_EXTENSIONS, UNTRUSTED, VARIANT_LABEL, read_c2pa, report_from_json
from provenance.credentials import is_development_signer, trust_list_from_pem
from provenance.spec import C2paReport, TrustList
from foundation.primitives import sha256_file

__all__ = ["AuditRecord", "Limits", "audit_paths", "exit_code", "ledger_manifest_lookup", "ledger_profile_lookup"]

# Plain-words meaning of the failure codes an auditor meets most.
CODE_MEANINGS = {
    UNTRUSTED: "signer not in trust list",
    "assertion.dataHash.mismatch": "content changed after signing",
    "assertion.bmffHash.mismatch": "content changed after signing",
    "assertion.boxesHash.mismatch": "content changed after signing",
    "assertion.hashedURI.mismatch": "an assertion was altered after signing",
    "claimSignature.mismatch": "the claim signature does not verify: manifest altered after signing",
    "signingCredential.expired": "signing certificate had expired",
    "signingCredential.revoked": "signing certificate was revoked",
    "signingCredential.invalid": "signing certificate is not acceptable for C2PA",
    "ingredient.manifest.missing": "an ingredient's manifest is missing",
    "assertion.missing": "a referenced assertion is missing",
}


@dataclass(frozen=True)
class AuditRecord:
    path: Path
    sha256: str | None                  # None when the file could not be read
    c2pa_state: str                     # "Trusted", "Valid", "Invalid", "absent" or "error"
    c2pa_codes: tuple[str, ...]
    digital_source_type: str | None
    signer: str | None
    claimed_asset_id: str | None        # the asset id the manifest claims (com.tessera.variant)
    asset_id: str | None                # our asset id for this sha256 according to the ledger
    in_ledger: bool
    verdict: str                        # "pass", "warn" or "fail"
    problems: tuple[str, ...]
    region: str | None = None           # rule profile the labels were checked against; None: not checked
    labels: dict[str, str] = field(default_factory=dict)   # rule id -> ok|missing|too_small|too_short|not_applicable
    watermark: dict | None = None       # found, asset_id, confidence; None: not looked for (manifest valid)
    fingerprint_match: dict | None = None   # the fingerprints agreeing with the watermark's asset (rank, distances)
    recovered: bool = False             # the watermark payload named our asset, the fingerprints did not object
    recovery: dict | None = None        # original asset id, signer, source type, what changed
    # Look-alikes by fingerprint when nothing is recovered: candidates with distances, each saying
    # "similar content, not proof of origin"; never an asset id of this file, never our signer.
    similar_to: tuple[dict, ...] = ()
    trust_anchor: str | None = None     # the anchor the signer chains to (Trusted files only)
    development_signer: bool = False    # signed by a Tessera development CA (trusted in its own home only)
    location: str | None = None         # recorded, swapped, replaced, moved, copy; None: not ours, or not checked
    recorded_path: str | None = None    # where the ledger records this content, when not at this path
    # The history the file's own manifest tells (any manifest that could be read; trust it as far as c2pa_state)
    signed_at: str | None = None        # the signature time-stamp's time (ISO 8601); None: no time-stamp
    actions: tuple[dict, ...] = ()      # {action, digital_source_type}, in manifest order
    ingredients: tuple[dict, ...] = ()  # {title, relationship, has_manifest}

    def to_dict(self) -> dict[str, Any]:
        """The row of `tessera audit --json`: the same keys on every row, in this order (docs/audit-json.md)."""
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "c2pa_state": self.c2pa_state,
            "c2pa_codes": list(self.c2pa_codes),
            "digital_source_type": self.digital_source_type,
            "signer": self.signer,
            "signed_at": self.signed_at,
            "actions": list(self.actions),
            "ingredients": list(self.ingredients),
            "claimed_asset_id": self.claimed_asset_id,
            "asset_id": self.asset_id,
            "in_ledger": self.in_ledger,
            "verdict": self.verdict,
            "problems": list(self.problems),
            "region": self.region,
            "labels": dict(self.labels),
            "watermark": self.watermark,
            "fingerprint_match": self.fingerprint_match,
            "recovered": self.recovered,
            "recovery": self.recovery,
            "similar_to": list(self.similar_to),
            "trust_anchor": self.trust_anchor,
            "development_signer": self.development_signer,
            "location": self.location,
            "recorded_path": self.recorded_path,
        }


def audit_paths(paths: Sequence[Path], *, anchors_pem: bytes | None,
                lookup: Callable[[str], str | None] | None, region: str | None = None,
                as_of: date | None = None, profile_lookup: Callable[[str], str | None] | None = None,
                recover: Callable[[Path], Any] | None = None, limits: Limits = Limits(),
                child_init: Callable[[], None] | None = None, trust: TrustList | None = None,
                placement: Callable[[Path, str | None], Any] | None = None,
                rules_dir: Path | Sequence[Path] = DEFAULT_RULES_DIR,
                known_lookup: Callable[[str], C2paReport | None] | None = None) -> list[AuditRecord]:
    """Audit files and directories (recursively, media files and special entries, sorted), one record each.

    region: check every file's labels against this rule profile ("CN", "EU", ...); else the
    profile `profile_lookup(asset id)` gives (see ledger_profile_lookup), else the one our valid
    manifest records. as_of: the date whose rules apply (default today). recover: for a video
    with no valid manifest, find the original by watermark and fingerprints (provenance.recover).
    limits: time and memory each file's audit may take. child_init: run in each file's child
    process first (e.g. a ledger engine dropping the connections it shares with the parent).
    trust: the named anchors and allowed EKUs (see provenance.trust_list); without it, anchors_pem.
    placement: (resolved path, sha256) -> the ledger's PathRecord, for the path check (see above).
    rules_dir: where rule profiles are read (the package's folder, or it and the user's).
    known_lookup: asset id -> the ledger's copy of that asset's manifest (ledger_manifest_lookup): for a
    copy whose credentials were recovered, its profile (unless `region`), its rules and its AI facts come
    from there, so a missing label or metadata item on the copy fails, naming the rule.
    """
    known_profiles(rules_dir)   # a malformed rules file is an error (RuleFileError) before any file is read
    if region is not None:
        profile_for(region, rules_dir)   # an unknown profile is an error before any file is read
    day = as_of or date.today()
    trusted = trust if trust is not None else trust_list_from_pem(anchors_pem)

    def one(path: Path) -> AuditRecord:
        if recover is None:
            return _audit_file(path, trusted, lookup, region, day, profile_lookup, rules_dir, placement=placement)
        # labels wait for the recovery: a recovered copy is checked against what the ledger knows of it
        record, deferred = _audit_file(path, trusted, lookup, region, day, profile_lookup, rules_dir, placement=placement,
                                       defer_labels=True)
        record = _with_recovery(record, recover)
        if not deferred:
            return record
        known = (known_lookup(record.recovery["asset_id"])
                 if record.recovered and record.recovery and known_lookup is not None else None)
        return _labels_after_recovery(record, known, region, day, rules_dir)

    records = []
    for entry in expand_entries(paths):
        if entry.problem is not None:
            records.append(_entry_record(entry.path, entry.verdict, entry.problem))
            continue
        result = run_limited(lambda: one(entry.path), limits, child_init)
        records.append(result.value if result.ok else _entry_record(entry.path, "fail", f"cannot verify: {result.problem}"))
    return records


VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi"})


def _with_recovery(record: AuditRecord, recover: Callable[[Path], Any]) -> AuditRecord:
    """A video that lost (or broke) its credentials: look for the original by its soft bindings."""
    if record.c2pa_state not in ("absent", "Invalid") or record.path.suffix.lower() not in VIDEO_SUFFIXES:
        return record
    try:
        found = recover(record.path)
    except (ClipError, ValueError, OSError) as exc:
        return replace(record, problems=record.problems + (f"recovery could not read the video: {exc}",))
    problems = record.problems + tuple(found.problems)
    verdict = record.verdict
    recovery = None
    if found.recovered:
        recovery = {"asset_id": found.asset_id, "signer": found.signer,
                    "digital_source_type": found.digital_source_type, "changes": list(found.changes)}
        problems += (f"credentials recovered: a copy of our asset {found.asset_id} ({'; '.join(found.changes)})",)
    return replace(record, watermark=found.watermark, fingerprint_match=found.fingerprint_match,
                   recovered=found.recovered, recovery=recovery, problems=problems, verdict=verdict,
                   similar_to=tuple(c.to_dict() for c in found.similar_to))


def _labels_after_recovery(record: AuditRecord, known: C2paReport | None, region: str | None, as_of: date,
                           rules_dir: Path | Sequence[Path]) -> AuditRecord:
    """The region labels of a file with no valid manifest, once recovery has run. A recovered copy of our
    asset: the profile the ledger recorded (`region` overrides it) and the facts of its compliance record,
    so every rule that applies to it is required (a missing label or metadata item fails). Otherwise as
    for any file: the profile asked for (or claimed), with what the file itself says."""
    profile = record.region
    facts_from = None
    if known is not None:
        recorded = _recorded_profile(known)
        profile = region or recorded or profile
        facts_from = known if known.assertion(COMPLIANCE_LABEL) is not None else None
    if profile is None or record.sha256 is None:
        return replace(record, region=None)
    own = C2paReport(state=record.c2pa_state, codes=record.c2pa_codes)   # no valid manifest: nothing in it counts
    labels, problems, verdict = _region_labels(record.path, profile, as_of, own, False, rules_dir,
                                               facts_from=facts_from)
    if facts_from is not None:
        problems.insert(0, f"labels checked as the ledger records the original {record.recovery['asset_id']}: "
                           f"profile {profile}, {_facts_text(facts_from)}")
    return replace(record, region=profile, labels=labels, problems=record.problems + tuple(problems),
                   verdict=_worse(record.verdict, verdict))


def _facts_text(report: C2paReport) -> str:
    content = (report.assertion(COMPLIANCE_LABEL) or {}).get("content") or {}
    said = [name.replace("_", " ") for name in ("ai_generated", "ai_modified", "deepfake", "synthetic_performer")
            if content.get(name)]
    return ", ".join(said) or "not AI"


def ledger_manifest_lookup(ledger: Any) -> Callable[[str], C2paReport | None]:
    """asset id -> the ledger's copy of that asset's manifest, read as a report (None when unknown)."""
    def lookup(asset_id: str) -> C2paReport | None:
        text = ledger.manifest_json(asset_id)
        return None if text is None else report_from_json(text)
    return lookup


def ledger_profile_lookup(ledger: Any) -> Callable[[str], str | None]:
    """asset id -> the rule profile recorded in the ledger's copy of that asset's manifest."""
    def lookup(asset_id: str) -> str | None:
        text = ledger.manifest_json(asset_id)
        return None if text is None else _recorded_profile(report_from_json(text))
    return lookup


def exit_code(records: Sequence[AuditRecord]) -> int:
    """0 when no file fails (warnings pass), 1 when any does."""
    return 1 if any(r.verdict == "fail" for r in records) else 0


@dataclass(frozen=True)
class Entry:
    """One thing the audit reports: a file to audit (problem None) or an entry with its row decided."""
    path: Path
    problem: str | None = None
    verdict: str = "fail"


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """The files an audit of `paths` opens (special entries left out); see expand_entries."""
    return [e.path for e in expand_entries(paths) if e.problem is None]


def expand_entries(paths: Sequence[Path]) -> list[Entry]:
    """Files as given, directories expanded (sorted) to media files and special entries.

    Nothing is opened here: entries are classified with lstat/stat, so a FIFO or a device
    is reported without blocking. A missing path is an error; a path named twice is one entry.
    """
    out: list[Entry] = []
    seen: set[Path] = set()
    for path in paths:
        path = Path(path)
        kind = _classify(path)
        if kind in ("dir", "dir-link"):   # a folder named explicitly is walked, a link to one too
            found = sorted(_walk(path), key=lambda e: e.path)
        elif kind == "missing":
            raise FileNotFoundError(f"audit path does not exist: {path}")
        elif kind == "file":
            found = [Entry(path)]
        else:   # named explicitly: reported whatever its name
            found = [Entry(path, kind)]
        for entry in found:
            key = _identity(entry.path)
            if key not in seen:
                seen.add(key)
                out.append(entry)
    return out


def _walk(folder: Path) -> list[Entry]:
    entries: list[Entry] = []
    try:
        with os.scandir(folder) as it:
            children = sorted(Path(e.path) for e in it)
    except OSError as e:
        return [Entry(folder, f"cannot list folder: {e.strerror or e}")]
    for child in children:
        kind = _classify(child)
        if kind == "dir":
            entries.extend(_walk(child))
        elif kind == "file":
            if child.suffix.lower() in MEDIA_EXTENSIONS:
                entries.append(Entry(child))
        elif kind == "dir-link":
            entries.append(Entry(child, "symlink to a folder: not followed", "warn"))
        elif kind != "missing":   # vanished since listing: nothing to report
            entries.append(Entry(child, kind))
    return entries


def _classify(path: Path) -> str:
    """'file', 'dir', 'dir-link', 'missing', or the problem of a special entry in plain words."""
    try:
        link = os.lstat(path)
    except FileNotFoundError:
        return "missing"
    except OSError as e:
        return f"cannot inspect: {e.strerror or e}"
    is_link = stat.S_ISLNK(link.st_mode)
    try:
        st = os.stat(path)
    except OSError as e:
        if not is_link:
            return f"cannot inspect: {e.strerror or e}"
        if e.errno == errno.ELOOP:
            return "symlink loop: not followed"
        if e.errno == errno.ENOENT:
            return f"broken symlink (target {_link_target(path)} does not exist)"
        return f"symlink cannot be followed: {e.strerror or e}"
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISDIR(st.st_mode):
        return "dir-link" if is_link else "dir"
    what = {stat.S_IFIFO: "FIFO", stat.S_IFCHR: "character device", stat.S_IFBLK: "block device",
            stat.S_IFSOCK: "socket"}.get(stat.S_IFMT(st.st_mode), "special file")
    via = f"symlink to {_link_target(path)}, a {what}" if is_link else what
    return f"not a regular file ({via}): not opened"


def _link_target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def _identity(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):   # a loop: its own path is its identity
        return path.absolute()


def _entry_record(path: Path, verdict: str, problem: str) -> AuditRecord:
    """The row of an entry the audit could not (or would not) read."""
    return AuditRecord(path=path, sha256=None, c2pa_state="error", c2pa_codes=(), digital_source_type=None,
                       signer=None, claimed_asset_id=None, asset_id=None, in_ledger=False, verdict=verdict,
                       problems=(problem,))


def _audit_file(path: Path, trust: TrustList, lookup: Callable[[str], str | None] | None,
                region: str | None = None, as_of: date | None = None,
                profile_lookup: Callable[[str], str | None] | None = None,
                rules_dir: Path | Sequence[Path] = DEFAULT_RULES_DIR, defer_labels: bool = False,
                placement: Callable[[Path, str | None], Any] | None = None) -> Any:
    """One file's record. defer_labels: a file without a valid manifest, unknown to the ledger by its
    hash, gets no label check here; (record, True) is returned and the caller checks its labels after
    recovery (_labels_after_recovery). Otherwise (record, False), or with defer_labels False the record."""
    report = read_c2pa(path, trust.pem or None, trust.ekus)
    try:
        sha = sha256_file(path)
    except OSError as e:
        sha = None
        if report.state != "error":  # the reader managed; hashing did not: still a file we cannot vouch for
            report = C2paReport(state="error", codes=(), error=f"cannot read {path}: {e.strerror or e}")
    ledger_id = lookup(sha) if (lookup is not None and sha is not None) else None

    problems: list[str] = []
    verdict = "pass"
    if report.state == "error":
        verdict = "fail"
        problems.append(f"cannot verify: {report.error}")
    elif report.state == "absent":
        verdict = "warn"
        problems.append("no content credentials")
    elif report.state == "Invalid":
        verdict = "fail"
        problems.extend(_explain(code) for code in report.codes)
    elif report.state == "Valid":
        verdict = "warn"
        problems.extend(_explain(code) for code in report.codes or (UNTRUSTED,))
    elif report.state != "Trusted":
        verdict = "fail"
        problems.append(f"unknown C2PA validation state {report.state!r}")
    anchor = _which_anchor(path, trust) if report.state == "Trusted" else None
    development = is_development_signer(report.signer) or (anchor is not None and anchor.development)
    if development and report.state == "Valid":
        problems.append("development signer: trusted only in the Tessera home that made it")

    if lookup is not None and report.asset_id is not None:
        if ledger_id is None:
            problems.append(f"manifest claims asset id {report.asset_id} but the ledger has no record of this file")
            verdict = "warn" if verdict == "pass" else verdict
        elif ledger_id != report.asset_id:
            problems.append(f"manifest claims asset id {report.asset_id} but the ledger records "
                            f"this file as {ledger_id}")
            verdict = "fail"

    location, recorded_path, place_problem, place_verdict = _placement(path, sha, placement)
    if place_problem is not None:
        problems.append(place_problem)
        verdict = _worse(verdict, place_verdict)

    # Region labels: the profile asked for, else the one recorded for this asset, else our manifest's.
    valid = _validates(report)
    profile = region
    if profile is None and profile_lookup is not None and (ledger_id or report.asset_id):
        profile = profile_lookup(ledger_id or report.asset_id)
    if profile is None and valid:
        profile = _recorded_profile(report)
    labels: dict[str, str] = {}
    deferred = defer_labels and not valid and ledger_id is None
    if profile is not None and sha is not None and not deferred:
        labels, label_problems, label_verdict = _region_labels(path, profile, as_of or date.today(), report, valid,
                                                              rules_dir)
        problems.extend(label_problems)
        verdict = _worse(verdict, label_verdict)

    record = AuditRecord(
        path=path,
        sha256=sha,
        c2pa_state=report.state,
        c2pa_codes=report.codes,
        digital_source_type=report.digital_source_type,
        signer=report.signer,
        signed_at=report.signed_at,
        actions=tuple({"action": a.action, "digital_source_type": a.digital_source_type} for a in report.actions),
        ingredients=tuple({"title": i.title, "relationship": i.relationship, "has_manifest": i.has_manifest}
                          for i in report.ingredients),
        claimed_asset_id=report.asset_id,
        asset_id=ledger_id,
        in_ledger=ledger_id is not None,
        verdict=verdict,
        problems=tuple(problems),
        region=profile,
        labels=labels,
        trust_anchor=anchor.name if anchor is not None else None,
        development_signer=development,
        location=location,
        recorded_path=recorded_path,
    )
    return (record, deferred) if defer_labels else record


def _placement(path: Path, sha: str | None, placement: Callable[[Path, str | None], Any] | None
               ) -> tuple[str | None, str | None, str | None, str]:
    """(location, recorded path, problem, verdict) of the path check (see the table above)."""
    if placement is None or sha is None:
        return None, None, None, "pass"
    where = _identity(path)
    rec = placement(where, sha)
    here = rec.at_path
    if here is not None and here.sha256 == sha:
        return "recorded", None, None, "pass"
    ours = rec.by_content[0] if rec.by_content else None
    if here is not None:
        if ours is not None and ours.output_path != where:
            return "swapped", str(ours.output_path), (
                f"swapped: this path is recorded for asset {here.asset_id} ({here.sku} {here.locale} {here.aspect}), "
                f"but the file is asset {ours.asset_id}: the ledger records this content at {ours.output_path}"), "fail"
        return "replaced", None, (
            f"replaced: not the file the ledger records at this path (asset {here.asset_id}, sha256 "
            f"{here.sha256[:16]}...; this file's is {sha[:16]}...)"), "fail"
    if ours is None:
        return None, None, None, "pass"
    if rec.in_output_dir:
        return "moved", str(ours.output_path), (
            f"moved: the ledger records this content (asset {ours.asset_id}) at {ours.output_path}"), "warn"
    return "copy", str(ours.output_path), None, "pass"


def _which_anchor(path: Path, trust: TrustList):
    """The anchor a Trusted file chains to: with several, the first that alone makes it Trusted."""
    if len(trust.anchors) == 1:
        return trust.anchors[0]
    for anchor in trust.anchors:
        if read_c2pa(path, anchor.pem, trust.ekus).state == "Trusted":
            return anchor
    return None


def _worse(a: str, b: str) -> str:
    order = ("pass", "warn", "fail")
    return max(a, b, key=order.index)


def _validates(report: C2paReport) -> bool:
    """The manifest validates (Trusted or Valid): only then is what its assertions say taken as the file's."""
    return report.state in ("Trusted", "Valid") and report.manifest_json is not None


def _recorded_profile(report: C2paReport) -> str | None:
    for label in (COMPLIANCE_LABEL, VARIANT_LABEL):
        data = report.assertion(label)
        if data is not None and isinstance(data.get("rule_profile"), str):
            return data["rule_profile"]
    return None


def _region_labels(path: Path, profile_id: str, as_of: date, report: C2paReport,
                   valid: bool, rules_dir: Path | Sequence[Path] = DEFAULT_RULES_DIR, *,
                   facts_from: C2paReport | None = None) -> tuple[dict[str, str], list[str], str]:
    """Per rule of the profile in force on as_of: its status on this file; problems and the verdict they give."""
    try:
        profile = profile_for(profile_id, rules_dir)
    except GateError as exc:
        return {}, [f"labels not checked: {exc}"], "warn"
    rules = [r for r in profile.rules if r.in_force(as_of)]
    # 1. What the file is: all facts from our compliance record; AI or not from the source type or AIGC
    # facts_from: the ledger's manifest of the original of a recovered copy (the file's own says nothing)
    source = facts_from if facts_from is not None else (report if valid else None)
    record = source.assertion(COMPLIANCE_LABEL) if source is not None else None
    facts = language = None
    if record is not None and isinstance(record.get("content"), dict):
        try:
            facts = ContentFacts(**record["content"])
            language = record.get("language")
        except (TypeError, ValueError):
            facts = None
    is_ai: bool | None = None
    if facts is not None:
        is_ai = facts.ai_generated or facts.ai_modified
    elif valid and report.digital_source_type is not None:
        is_ai = report.digital_source_type in AI_SOURCE_TYPES
    else:
        try:
            aigc = [i.value for i in metadata_items(path) if i.key == "AIGC"]
        except (Mp4MetaError, OSError):
            aigc = []
        if any(_aigc_label(v) == "1" for v in aigc):   # "1": declared AI-generated synthetic content
            is_ai = True
    # 2. Which rules apply for sure, which cannot apply, which might
    if facts is not None:
        required = {r.id for r in applicable_rules(profile, as_of=as_of, content=facts)}
        maybe: set[str] = set()
    elif is_ai is False:
        required, maybe = set(), set()
    elif is_ai:
        required = {r.id for r in rules if r.applies_to == "any_ai" and r.origin in ("any", "generated")}
        maybe = {r.id for r in rules} - required
    else:
        required, maybe = set(), {r.id for r in rules}
    checked = check_rules_on_file(path, [r for r in rules if r.id in required | maybe],
                                  language=language or "und", locale=language or "en", c2pa=report)
    labels = {r.id: "not_applicable" for r in rules}
    problems: list[str] = []
    verdict = "pass"
    for c in checked:
        labels[c.rule_id] = c.status
        if c.status == "ok":
            continue
        why = "; ".join(c.details)
        if c.rule_id in required:
            problems.append(f"{profile_id} rule {c.rule_id}: {c.status}: {why}")
            verdict = "fail"
        else:
            problems.append(f"{profile_id} rule {c.rule_id}: {c.status} (applies if the content is "
                            f"{_trigger(profile, c.rule_id)}; the file does not say): {why}")
            verdict = _worse(verdict, "warn")
    return labels, problems, verdict


def _aigc_label(value: str) -> str | None:
    try:
        obj = json.loads(value)
    except json.JSONDecodeError:
        return None
    return obj.get("Label") if isinstance(obj, dict) else None


def _trigger(profile: Any, rule_id: str) -> str:
    rule = next(r for r in profile.rules if r.id == rule_id)
    return {"any_ai": "AI-generated or AI-modified", "realistic_people_or_scenes": "AI-made realistic people or scenes",
            "synthetic_performer": "an AI-made synthetic performer", "deepfake": "a deep fake"}[rule.applies_to]


def _explain(code: str) -> str:
    return f"{code}: {CODE_MEANINGS.get(code, 'C2PA validation failure')}"

