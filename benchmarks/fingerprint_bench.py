"""FingerprintIndex query time over 1,000,000 stored 64-bit pHashes vs a plain Python loop over
imagehash objects (`h1 - h2`), one run. The loop is timed on a subset and extrapolated linearly
to the full size (it is a linear scan; running it over 1e6 hashes per query takes minutes).
Then the text prints that rank the candidates: hashing one 720p frame's 5 text regions (what the
render adds per fingerprinted frame) and ranking 6 sibling candidates by text distance.

Run:  .venv/bin/python benchmarks/fingerprint_bench.py [--stored 1000000] [--loop-subset 50000]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import imagehash
import numpy as np

from provenance.fingerprint import FingerprintIndex, FingerprintRecorder, _text_hashes, text_distance

QUERY_HASHES = 8          # one 4-second clip at 2 hashes per second


def to_imagehash(value: int) -> imagehash.ImageHash:
    bits = np.unpackbits(np.frombuffer(int(value).to_bytes(8, "big"), np.uint8)).astype(bool)
    return imagehash.ImageHash(bits.reshape(8, 8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--loop-subset", type=int, default=50_000, help="hashes the plain loop scans (then extrapolated)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    stored = rng.integers(0, 2 ** 64, args.stored, dtype=np.uint64)
    # the query: hashes 3 bits away from frames of one stored asset (an attacked copy)
    target = stored[500_000 % args.stored: 500_000 % args.stored + QUERY_HASHES]
    query = [int(h) ^ 0b10010001 for h in target]

    # 1. index: build, query (median of 20), save/load
    start = time.perf_counter()
    index = FingerprintIndex()
    per_asset = 1000
    for i in range(0, args.stored, per_asset):
        index.add(f"asset-{i // per_asset:06d}", stored[i: i + per_asset])
    index.query(query[:1])                                   # merge appended chunks
    build_s = time.perf_counter() - start
    times = []
    for _ in range(20):
        start = time.perf_counter()
        matches = index.query(query, max_distance=10)
        times.append(time.perf_counter() - start)
    index_ms = float(np.median(times)) * 1000
    assert matches[0].asset_id == f"asset-{(500_000 % args.stored) // per_asset:06d}", matches[:2]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.npz"
        start = time.perf_counter()
        index.save(path)
        save_s = time.perf_counter() - start
        start = time.perf_counter()
        FingerprintIndex.load(path)
        load_s = time.perf_counter() - start
        size_mb = path.stat().st_size / 1e6

    # 2. plain loop over imagehash objects on a subset, extrapolated to the full size
    subset = [to_imagehash(h) for h in stored[: args.loop_subset]]
    query_objects = [to_imagehash(h) for h in query]
    start = time.perf_counter()
    for q in query_objects:
        [h for h in subset if q - h <= 10]
    loop_subset_ms = (time.perf_counter() - start) * 1000
    loop_ms = loop_subset_ms * args.stored / args.loop_subset

    # 3. text prints: one 720p frame's 5 text regions hashed; 6 candidates ranked by text distance
    regions = ((0.6, 0.05, 0.95, 0.15), (0.6, 0.16, 0.95, 0.42), (0.6, 0.43, 0.95, 0.56),
               (0.6, 0.78, 0.95, 0.93), (0.6, 0.57, 0.95, 0.77))
    frame = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    start = time.perf_counter()
    for _ in range(20):
        _text_hashes(frame, regions)
    hash_ms = (time.perf_counter() - start) * 1000 / 20
    whole = FingerprintRecorder(1, per_second=1)     # fps = per_second: every frame is hashed
    start = time.perf_counter()
    for i in range(20):
        whole(i, frame)
    whole_ms = (time.perf_counter() - start) * 1000 / 20
    candidates = [[tuple(int.from_bytes(rng.bytes(32), "big") for _ in regions) for _ in range(20)] for _ in range(6)]
    copy = candidates[0][:QUERY_HASHES]
    start = time.perf_counter()
    for _ in range(20):
        [text_distance(copy, c) for c in candidates]
    rank_ms = (time.perf_counter() - start) * 1000 / 20

    print(f"machine: {os.cpu_count()} cores; numpy {np.__version__}, imagehash {imagehash.__version__}\n")
    print(f"| method | stored hashes | query ({QUERY_HASHES} hashes) ms | per query hash ms | speed-up |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| FingerprintIndex (XOR + np.bitwise_count) | {args.stored:,} | {index_ms:.1f} | "
          f"{index_ms / QUERY_HASHES:.2f} | {loop_ms / index_ms:,.0f}x |")
    print(f"| plain loop, imagehash `q - h` | {args.stored:,} (timed on {args.loop_subset:,}, extrapolated) | "
          f"{loop_ms:,.0f} | {loop_ms / QUERY_HASHES:,.0f} | 1x |")
    print(f"\nindex: built in {build_s:.2f} s, saved in {save_s:.2f} s ({size_mb:.1f} MB .npz), loaded in {load_s:.2f} s")
    print(f"text prints: {hash_ms:.1f} ms to hash the 5 text regions of a 720p frame (the whole-frame hash of it: "
          f"{whole_ms:.1f} ms, same run); "
          f"{rank_ms:.2f} ms to rank 6 candidates ({QUERY_HASHES} copy frames x 20 stored frames each)")


if __name__ == "__main__":
    main()
