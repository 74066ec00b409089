"""Invisible, key-dependent video watermark carrying a 64-bit payload (numpy only, no model weights).

Design (docs/watermark.md has the long version):

* Payload: 64 bits (``payload_for_asset``: first 64 bits of sha256(asset id)) + a 24-bit CRC
  (CRC-24/OpenPGP, XOR-masked with key bits) + 6 zero tail bits = 94 bits, encoded with the
  K=7, rate-1/3 convolutional code (polynomials 133, 171, 165 octal) -> 282 coded bits, decoded
  with a soft-decision Viterbi decoder.
* Pattern: the frame is cut into ~1024 square cells whose size is relative to the frame area
  (so a resize keeps the layout). Each cell holds one +-1 chip, smoothly interpolated between
  cell centres (cos^2 kernel) so the pattern is low-frequency and survives compression and a
  50% downscale. A key-seeded quarter of the cells are pilot chips (known to the detector, used to
  undo crop + rescale); the rest carry the coded bits, each coded bit spread over ~2.7 cells at
  key-random places, times a key-random sign. The pattern is the same in every frame: any single
  frame holds the whole payload, so an excerpt of any length or a frame-rate change needs no
  temporal synchronisation; the detector averages frames to lift the pattern above the content.
* Embedding: luma only (the same integer offset is added to R, G and B, which changes Y by exactly
  that and leaves chroma alone), scaled by a perceptual mask (local Laplacian energy, eroded so
  flat areas next to edges stay untouched): ~0 on flat areas, full strength on texture. The
  per-frame offset is capped so PSNR >= 40.5 dB.
* Detection, blind: frames are decoded at a canonical size (10 px per cell), high-passed,
  locally normalised and averaged. Crop + rescale is undone by searching scales 1.00-1.22 and
  correlating the pilot pattern over all translations (FFT). At the best few alignments the
  chips are read, despread into soft coded bits and Viterbi-decoded; the CRC decides.

False-positive rate (unmarked clip reported as marked), derived:
  For content without our mark the decoded 88-bit word is, for the Viterbi decoder, an arbitrary
  path of the trellis; its 24 CRC bits equal the key-masked CRC of its 64 payload bits with
  probability 2^-24 = 5.96e-8 (the CRC is an affine map, and noise gives no preference among
  the 2^24 check values; tests check that this uniformity holds on real unmarked video by
  counting passes of a truncated 8-bit check, which must be ~1/256). The detector decodes at most
  ``MAX_DECODES`` = 4 candidate alignments per clip and reports found only on a CRC match, so by
  the union bound FP <= 4 * 2^-24 = 2.4e-7 per clip (design target 1e-6).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import ffmpeg
import numpy as np
from scipy import ndimage

from generation.clipfile import ClipError, ffmpeg_exe, probe
from generation.spec import FrameHook

__all__ = [
    "WatermarkResult",
    "DetectionStats",
    "payload_for_asset",
    "embed_frame",
    "watermark_hook",
    "accumulate_frames",
    "decode_stats",
    "detect_frames",
    "detect_file",
]

PAYLOAD_BITS = 64
CRC_BITS = 24
CELLS = 1024                  # cells per frame (cell side = sqrt(W*H / CELLS))
PILOT_FRACTION = 0.25         # share of cells that carry the known synchronisation chips
DEFAULT_STRENGTH = 5.0        # luma levels (0-255) at full mask, at the peak of a chip
MAX_RMS = 2.4                 # cap on the RMS luma change: PSNR >= 20*log10(255/2.4) = 40.5 dB
MASK_LOW, MASK_HIGH = 1.5, 6.0   # texture (mean |Laplacian|, luma levels) where the mask starts / is full
DET_CELL_PX = 10              # cell side at the detector's canonical size
SCALES = tuple(1.0 + 0.0125 * i for i in range(18))   # crop-and-rescale factors searched (up to ~18% crop)
MAX_DECODES = 4               # candidate alignments decoded per clip (enters the false-positive bound)
_POLYS = (0o133, 0o171, 0o165)
_K = 7
_CRC_POLY, _CRC_INIT = 0x864CFB, 0xB704CE   # CRC-24/OpenPGP
_MSG_BITS = PAYLOAD_BITS + CRC_BITS
_CODED_BITS = (_MSG_BITS + _K - 1) * len(_POLYS)


@dataclass(frozen=True)
class WatermarkResult:
    found: bool
    payload: int | None
    confidence: float              # correlation of the soft bits with the decoded codeword (0..1)
    bit_accuracy_estimate: float   # share of raw coded bits that agree with the decoded codeword
    sync_score: float              # z-score of the pilot correlation peak (~<4 means no alignment found)
    scale: float                   # detected crop-and-rescale factor (1.0: none)
    frames: int                    # frames averaged


@dataclass(frozen=True)
class DetectionStats:
    """Key-independent summary of a clip: the averaged, whitened luma at the canonical size."""
    mean_map: np.ndarray           # (h, w) float32
    frames: int


def payload_for_asset(asset_id: str) -> int:
    """The 64-bit payload that identifies `asset_id` in the ledger: first 64 bits of sha256."""
    if not asset_id:
        raise ValueError("asset_id is empty")
    return int.from_bytes(hashlib.sha256(asset_id.encode()).digest()[:8], "big")


# ---------------------------------------------------------------- error-correcting code

def _bits(value: int, n: int) -> np.ndarray:
    return np.array([(value >> (n - 1 - i)) & 1 for i in range(n)], dtype=np.uint8)


def _crc24_int(bits: np.ndarray, init: int) -> int:
    crc = init
    for b in bits:
        crc ^= int(b) << 23
        crc = ((crc << 1) ^ _CRC_POLY) & 0xFFFFFF if crc & 0x800000 else (crc << 1) & 0xFFFFFF
    return crc


def _crc_affine(key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """CRC as an affine map over GF(2): crc(m) = G @ m + c (mod 2), c including the key mask.

    The affine form lets the tests check millions of words at once; the key mask makes the
    check word secret-dependent."""
    mask = int.from_bytes(hashlib.sha256(b"tessera-wm-crc|" + key).digest()[:3], "big")
    zero = np.zeros(PAYLOAD_BITS, np.uint8)
    c = _bits(_crc24_int(zero, _CRC_INIT) ^ mask, CRC_BITS)
    g = np.empty((CRC_BITS, PAYLOAD_BITS), np.uint8)
    for i in range(PAYLOAD_BITS):
        e = zero.copy()
        e[i] = 1
        g[:, i] = _bits(_crc24_int(e, 0), CRC_BITS)
    return g, c


def _conv_tables() -> tuple[np.ndarray, np.ndarray]:
    """out_sign[state, bit, r] = +1/-1 for coded bit 0/1; prev[next_state, x] = predecessor."""
    n_states = 1 << (_K - 1)
    out = np.empty((n_states, 2, len(_POLYS)), np.float32)
    for s in range(n_states):
        for b in range(2):
            reg = (b << (_K - 1)) | s
            for r, p in enumerate(_POLYS):
                out[s, b, r] = 1.0 - 2.0 * (bin(reg & p).count("1") & 1)
    nxt = np.arange(n_states)
    prev = np.stack([((nxt & (n_states // 2 - 1)) << 1) | x for x in (0, 1)], axis=1)
    return out, prev


_OUT_SIGN, _PREV = _conv_tables()


def _conv_encode(msg: np.ndarray) -> np.ndarray:
    """Coded bits (0/1) of the message followed by K-1 zero tail bits (trellis ends in state 0)."""
    state = 0
    coded = []
    for b in np.concatenate([msg, np.zeros(_K - 1, np.uint8)]):
        coded.extend(int(v < 0) for v in _OUT_SIGN[state, int(b)])
        state = ((int(b) << (_K - 1)) | state) >> 1
    return np.array(coded, np.uint8)


def _viterbi(soft: np.ndarray) -> np.ndarray:
    """Soft-decision Viterbi for a batch: soft (B, coded) with >0 meaning bit 0 -> bits (B, message)."""
    batch = soft.shape[0]
    steps = soft.shape[1] // len(_POLYS)
    soft = soft.reshape(batch, steps, len(_POLYS)).astype(np.float32)
    n_states = 1 << (_K - 1)
    metric = np.full((batch, n_states), -1e30, np.float32)
    metric[:, 0] = 0.0
    nxt = np.arange(n_states)
    bit_of_next = nxt >> (_K - 2)
    # branch signs for each (next state, predecessor choice x): (n_states, 2, r)
    branch = np.stack([_OUT_SIGN[_PREV[:, x], bit_of_next] for x in (0, 1)], axis=1)
    decisions = np.empty((steps, batch, n_states), np.uint8)
    for t in range(steps):
        gain = np.einsum("br,sxr->bsx", soft[:, t], branch)
        cand = metric[:, _PREV] + gain                  # (batch, n_states, 2)
        choice = cand[:, :, 1] > cand[:, :, 0]
        decisions[t] = choice
        metric = np.where(choice, cand[:, :, 1], cand[:, :, 0])
    # 1. trace back from state 0 (the tail bits force it)
    state = np.zeros(batch, np.int64)
    bits = np.empty((batch, steps), np.uint8)
    rows = np.arange(batch)
    for t in range(steps - 1, -1, -1):
        bits[:, t] = state >> (_K - 2)
        state = _PREV[state, decisions[t, rows, state]]
    return bits[:, : steps - (_K - 1)]


# ---------------------------------------------------------------- key-dependent layout

@dataclass(frozen=True)
class _Layout:
    rows: int
    cols: int
    pilot: np.ndarray      # (rows, cols) float32: +-1 on pilot cells, 0 elsewhere
    sign: np.ndarray       # (rows, cols) float32: +-1 spreading sign on data cells, 0 elsewhere
    bit_index: np.ndarray  # (rows, cols) int64: coded bit of each data cell, -1 elsewhere


def _grid(width: int, height: int) -> tuple[int, int, float]:
    cell = math.sqrt(width * height / CELLS)
    return max(1, math.ceil(height / cell)), max(1, math.ceil(width / cell)), cell


def _layout(key: bytes, rows: int, cols: int) -> _Layout:
    if not isinstance(key, bytes) or not key:
        raise ValueError(f"watermark key must be non-empty bytes, got {type(key).__name__}")
    seed = int.from_bytes(hashlib.sha256(b"tessera-wm-layout|%d|%d|" % (rows, cols) + key).digest(), "big")
    rng = np.random.default_rng(seed)
    n = rows * cols
    order = rng.permutation(n)
    n_pilot = int(round(n * PILOT_FRACTION))
    signs = rng.choice(np.array([-1.0, 1.0], np.float32), size=n)
    pilot = np.zeros(n, np.float32)
    pilot[order[:n_pilot]] = signs[order[:n_pilot]]
    data_cells = order[n_pilot:]
    sign = np.zeros(n, np.float32)
    sign[data_cells] = signs[data_cells]
    bit_index = np.full(n, -1, np.int64)
    # data cells go round-robin over a random order, so every coded bit lands all over the frame
    bit_index[data_cells] = np.arange(data_cells.size) % _CODED_BITS
    return _Layout(rows, cols, pilot.reshape(rows, cols), sign.reshape(rows, cols), bit_index.reshape(rows, cols))


def _interp_weights(n_px: int, extent: float, n_cells: int, cell_px: float) -> np.ndarray:
    """(n_px, n_cells) cos^2 interpolation weights at pixel centres; the cell grid is centred on a
    frame `extent` pixels long (extent may differ from n_px when the last sample block overhangs)."""
    u = (np.arange(n_px) + 0.5 - extent / 2) / cell_px + (n_cells - 1) / 2
    j0 = np.floor(u).astype(np.int64)
    t = u - j0
    w = np.zeros((n_px, n_cells + 2), np.float32)
    idx = np.arange(n_px)
    w[idx, np.clip(j0 + 1, 0, n_cells + 1)] = np.cos(np.pi * t / 2) ** 2
    w[idx, np.clip(j0 + 2, 0, n_cells + 1)] += np.sin(np.pi * t / 2) ** 2
    return w[:, 1:-1]


def _weights(width: int, height: int, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Interpolation weights (rows, cols) for a width x height frame sampled every `step` pixels."""
    rows, cols, cell = _grid(width, height)
    wy = _interp_weights(-(-height // step), height / step, rows, cell / step)
    wx = _interp_weights(-(-width // step), width / step, cols, cell / step)
    return wy, wx


def _chips(payload: int, key: bytes, layout: _Layout) -> np.ndarray:
    if not 0 <= payload < 1 << PAYLOAD_BITS:
        raise ValueError(f"payload must be an unsigned 64-bit int, got {payload!r}")
    g, c = _crc_affine(key)
    msg = _bits(payload, PAYLOAD_BITS)
    crc = (g.astype(np.int64) @ msg + c) % 2
    coded = _conv_encode(np.concatenate([msg, crc.astype(np.uint8)]))
    coded_sign = 1.0 - 2.0 * coded.astype(np.float32)
    data = np.where(layout.bit_index >= 0, coded_sign[np.maximum(layout.bit_index, 0)], 0.0)
    return (layout.pilot + layout.sign * data).astype(np.float32)


# ---------------------------------------------------------------- embedding

def _stride(height: int, width: int) -> int:
    """Sampling step of the mask/offset grid: ~270 rows at 1080p, full resolution for small frames."""
    return max(1, round(math.sqrt(height * width) / 360))


class _Embedder:
    """Holds the pattern of one payload/key per frame size, computed once."""

    def __init__(self, payload: int, key: bytes, strength: float) -> None:
        if not 0 < strength <= 20:
            raise ValueError(f"strength must be in (0, 20] luma levels, got {strength!r}")
        self.payload, self.key, self.strength = payload, key, strength
        _chips(payload, key, _layout(key, 1, 1))            # validate payload and key now
        self._cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, int]] = {}

    def _pattern(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray, int]:
        if (height, width) not in self._cache:
            rows, cols, _ = _grid(width, height)
            chips = _chips(self.payload, self.key, _layout(self.key, rows, cols))
            s = _stride(height, width)
            # sample the pattern at the centre of each s x s block the offset will cover
            wy, wx = _weights(width, height, s)
            pattern = (wy @ chips @ wx.T).astype(np.float32)
            self._cache[(height, width)] = (pattern, np.arange(height) // s, s)
        return self._cache[(height, width)]

    def __call__(self, frame_index: int, frame: np.ndarray) -> np.ndarray:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame must be H x W x 3 uint8, got {frame.shape} {frame.dtype}")
        height, width = frame.shape[:2]
        pattern, row_of, s = self._pattern(height, width)
        # 1. texture of the subsampled luma: mean |Laplacian|, eroded so edges do not spill into flat areas
        sub = frame[::s, ::s].astype(np.float32)
        luma = sub @ np.array([0.299, 0.587, 0.114], np.float32)
        pad = np.pad(luma, 1, mode="edge")
        lap = np.abs(4 * luma - pad[:-2, 1:-1] - pad[2:, 1:-1] - pad[1:-1, :-2] - pad[1:-1, 2:])
        k = max(3, int(round(math.sqrt(height * width / CELLS) / s / 3)) | 1)
        tex = ndimage.uniform_filter(lap, k)
        tex = ndimage.minimum_filter1d(ndimage.minimum_filter1d(tex, k, axis=0), k, axis=1)
        tex = ndimage.uniform_filter(tex, k)
        # 2. mask: 0 on flat areas, 1 on texture; offset rounded to whole luma levels
        mask = np.clip((tex - MASK_LOW) / (MASK_HIGH - MASK_LOW), 0.0, 1.0)
        delta = self.strength * mask * pattern
        rms = math.sqrt(float(np.mean(np.square(delta)))) if delta.size else 0.0
        if rms > MAX_RMS:
            delta *= MAX_RMS / rms
        delta = np.rint(delta).astype(np.int16)
        # 3. expand to full size as separate +/- planes and add with saturation (all uint8, no float frame)
        pos = np.repeat(np.clip(delta, 0, 255).astype(np.uint8), 3 * s, axis=1)[:, : width * 3][row_of]
        neg = np.repeat(np.clip(-delta, 0, 255).astype(np.uint8), 3 * s, axis=1)[:, : width * 3][row_of]
        out = frame.reshape(height, width * 3)
        out = np.minimum(out, 255 - pos)
        out += pos
        np.maximum(out, neg, out=out)
        out -= neg
        return out.reshape(height, width, 3)


def embed_frame(frame: np.ndarray, payload: int, frame_index: int, key: bytes,
                strength: float = DEFAULT_STRENGTH) -> np.ndarray:
    """Return a marked copy of one RGB uint8 frame. For many frames use `watermark_hook`, which
    computes the pattern once. `frame_index` is accepted for the FrameHook contract; the pattern
    is deliberately the same in every frame (see module docstring)."""
    return _Embedder(payload, key, strength)(frame_index, frame)


def watermark_hook(payload: int, key: bytes, *, strength: float = DEFAULT_STRENGTH) -> FrameHook:
    """A FrameHook that marks every frame with `payload` under `key`."""
    return _Embedder(payload, key, strength)


# ---------------------------------------------------------------- detection

def _canonical_size(width: int, height: int) -> tuple[int, int]:
    scale = DET_CELL_PX * math.sqrt(CELLS / (width * height))
    return max(16, int(round(width * scale))), max(16, int(round(height * scale)))


def _whiten(frame: np.ndarray) -> np.ndarray:
    """High-pass at the cell scale, locally normalised, clipped: content counts little, the mark much."""
    luma = frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    high = luma - ndimage.gaussian_filter(luma, DET_CELL_PX, truncate=2.5)
    local = np.sqrt(ndimage.gaussian_filter(high * high, 2 * DET_CELL_PX, truncate=2.5)) + 1.0
    return np.clip(high / local, -3.0, 3.0)


def accumulate_frames(frames: Iterable[np.ndarray]) -> DetectionStats:
    """Average whitened luma of frames at the canonical size (frames of another size are resized)."""
    total = None
    count = 0
    for frame in frames:
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame must be H x W x 3, got {frame.shape}")
        h, w = frame.shape[:2]
        cw, ch = _canonical_size(w, h)
        if (h, w) != (ch, cw):
            frame = ndimage.zoom(frame.astype(np.float32), (ch / h, cw / w, 1), order=1)
        white = _whiten(frame)
        if total is None:
            total = np.zeros_like(white)
        if white.shape != total.shape:
            raise ValueError(f"frame size changed mid-clip: {frame.shape}")
        total += white
        count += 1
    if total is None:
        raise ValueError("no frames to detect on")
    return DetectionStats(total / count, count)


def _pilot_peaks(mean_map: np.ndarray, pilot_ref_fft: np.ndarray, ref_norm: float) -> list[tuple[float, float, int, int]]:
    """(z-score, scale, dy, dx) of the best pilot correlation at each scale."""
    h, w = mean_map.shape
    peaks = []
    for scale in SCALES:
        sh, sw = int(round(h / scale)), int(round(w / scale))
        small = ndimage.zoom(mean_map, (sh / h, sw / w), order=1) if scale != 1.0 else mean_map
        canvas = np.zeros((h, w), np.float32)
        canvas[:sh, :sw] = small
        corr = np.fft.irfft2(np.conj(np.fft.rfft2(canvas)) * pilot_ref_fft, s=(h, w))
        # only offsets that keep the shrunk map inside the frame (plus 1% slack) are possible
        my, mx = h - sh + max(1, h // 100), w - sw + max(1, w // 100)
        window = np.full((h, w), -np.inf, np.float32)
        window[:my, :mx] = corr[:my, :mx]
        noise = np.std(corr)
        dy, dx = np.unravel_index(int(np.argmax(window)), window.shape)
        peaks.append((float(window[dy, dx] / (noise + 1e-12)), scale, int(dy), int(dx)))
    return peaks


def decode_stats(stats: DetectionStats, key: bytes) -> WatermarkResult:
    """Look for the mark of `key` in precomputed stats: align with the pilot, despread, decode, check CRC."""
    mean_map = stats.mean_map
    h, w = mean_map.shape
    rows, cols, _ = _grid(w, h)
    layout = _layout(key, rows, cols)
    wy, wx = _weights(w, h)
    pilot_ref = (wy @ layout.pilot @ wx.T).astype(np.float32)
    # 1. synchronise: best pilot correlation per scale, decode the best few alignments
    peaks = sorted(_pilot_peaks(mean_map, np.fft.rfft2(pilot_ref), 1.0), reverse=True)[:MAX_DECODES]
    g, c = _crc_affine(key)
    best: WatermarkResult | None = None
    for z, scale, dy, dx in peaks:
        sh, sw = int(round(h / scale)), int(round(w / scale))
        small = ndimage.zoom(mean_map, (sh / h, sw / w), order=1) if scale != 1.0 else mean_map
        canvas = np.zeros((h, w), np.float32)
        ys, xs = slice(dy, min(h, dy + sh)), slice(dx, min(w, dx + sw))
        canvas[ys, xs] = small[: ys.stop - dy, : xs.stop - dx]
        # 2. read chips and despread into soft coded bits (cells outside the picture read 0 = erasure)
        chips = wy.T @ canvas @ wx
        soft = np.zeros(_CODED_BITS, np.float32)
        data = layout.bit_index >= 0
        np.add.at(soft, layout.bit_index[data], (chips * layout.sign)[data])
        # 3. decode and check
        msg = _viterbi(soft[None])[0]
        payload_bits, crc = msg[:PAYLOAD_BITS], msg[PAYLOAD_BITS:]
        ok = bool(np.array_equal((g.astype(np.int64) @ payload_bits + c) % 2, crc))
        coded_sign = 1.0 - 2.0 * _conv_encode(msg).astype(np.float32)
        norm = float(np.linalg.norm(soft)) * math.sqrt(_CODED_BITS)
        confidence = float(soft @ coded_sign) / norm if norm > 0 else 0.0
        accuracy = float(np.mean(np.sign(soft) == coded_sign))
        payload = int("".join(map(str, payload_bits)), 2) if ok else None
        result = WatermarkResult(ok, payload, max(confidence, 0.0), accuracy, z, scale, stats.frames)
        if ok:
            return result
        if best is None or result.confidence > best.confidence:
            best = result
    assert best is not None
    return best


def detect_frames(frames: Iterable[np.ndarray], *, key: bytes) -> WatermarkResult:
    """Detect the mark of `key` in RGB frames (any size, any excerpt, no original needed)."""
    return decode_stats(accumulate_frames(frames), key)


def _read_canonical(path: Path, size: tuple[int, int], max_seconds: float) -> Iterator[np.ndarray]:
    """RGB frames of the first `max_seconds` of `path`, scaled by ffmpeg to `size`.

    Not `read_clip`: it cannot stop early without ffmpeg dying on a closed pipe."""
    w, h = size
    proc = (
        ffmpeg.input(str(path), t=max_seconds)
        .filter("scale", w, h)
        .output("pipe:", format="rawvideo", pix_fmt="rgb24")
        .global_args("-loglevel", "error", "-nostdin")
        .run_async(pipe_stdout=True, pipe_stderr=True, cmd=ffmpeg_exe())
    )
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise ClipError(f"{path}: ffmpeg could not decode: {err.decode(errors='replace').strip()}")
    frames = np.frombuffer(out, np.uint8)
    yield from frames[: frames.size // (w * h * 3) * (w * h * 3)].reshape(-1, h, w, 3)


def detect_file(path: Path, *, key: bytes, max_seconds: float = 12.0) -> WatermarkResult:
    """Detect the mark of `key` in the first `max_seconds` of any video file ffmpeg can read."""
    if max_seconds <= 0:
        raise ValueError(f"max_seconds must be > 0, got {max_seconds!r}")
    width, height, _ = probe(Path(path))
    return detect_frames(_read_canonical(Path(path), _canonical_size(width, height), max_seconds), key=key)
