"""Invisible, key-dependent video watermark carrying a 64-bit payload (numpy only, no model weights).

Design (docs/watermark.md has the long version and the measurements):

* Payload: 64 bits (``payload_for_asset``: first 64 bits of sha256(asset id)) + a 24-bit CRC
  (CRC-24/OpenPGP, XOR-masked with key bits) + 6 zero tail bits, encoded with the K=7, rate-1/3
  convolutional code (polynomials 133, 171, 165 octal) -> 282 coded bits; soft-decision Viterbi.
* Pattern: ~4096 near-square cells tile the frame (48 x 85 at 16:9; the grid follows the aspect
  ratio only, so a resize keeps it). Each cell holds one +-1 chip, interpolated between cell
  centres with a cos^2 kernel: a smooth pattern with its energy at 2-4 cells per period (45-90 px
  at 1080p), which survives compression and a 50% downscale. A key-random quarter of the cells are
  pilot chips (known to the detector; they undo crop + rescale); every coded bit is spread over
  ~11 of the other cells at key-random places with key-random signs. The pattern is the same in
  every frame: each frame holds the whole payload, so excerpts and frame-rate changes need no
  temporal sync, and moving content averages out at the detector while the mark adds up.
* Embedding: luma only (one integer offset added to R, G and B changes Y by exactly that and
  leaves chroma alone, except where a channel saturates), scaled by a perceptual mask (local mean
  |Laplacian|, eroded so flat areas next to edges stay untouched): zero on flat areas, full
  strength on texture. The offset is capped per frame at RMS 2.4 levels (PSNR >= 40 dB).
* Detection, blind: frames are scaled to a canonical size (6 px per cell), high-passed, weighted
  by mask / local content variance (a matched filter: content is the noise) and averaged. Crop +
  rescale is undone by correlating the pilot over all translations (FFT) at 36 scales (crops of
  0-18%). At the MAX_DECODES best alignments the chips are read, whitened against their
  neighbours, despread into soft bits and Viterbi-decoded; the CRC decides.

False-positive rate (an unmarked clip reported as marked), derived:
  For content without our mark the Viterbi decoder still returns some 88-bit word; it is reported
  only if its last 24 bits equal the key-masked CRC-24 of its first 64. Noise favours no check
  value, so that happens with probability 2^-24 = 5.96e-8 per decoded word (tests verify the
  premise on real unmarked video: a check truncated to 8 bits passes ~1/256 of the time over
  10,000 keys, and the full check never). The detector decodes at most MAX_DECODES = 4 alignments
  per clip, so by the union bound FP <= 4 * 2^-24 = 2.4e-7 per clip (< 1e-6, the design target),
  whatever the content. A wrong payload from a damaged marked clip is rejected the same way.

Limitation: a still shot gives the detector one picture, whose content does not average out; a
few seconds of camera or subject motion (all our motion and diffusion clips have it) are needed.
"""
from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import ffmpeg
import numpy as np
from PIL import Image
from scipy import ndimage, sparse

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
    "file_stats",
    "detect_frames",
    "detect_file",
]

PAYLOAD_BITS = 64
CRC_BITS = 24
CELLS = 4096                  # cells per frame (~22 px cells at 1080p, 15 px at 720p)
PILOT_FRACTION = 0.25         # share of cells that carry the known synchronisation chips
DEFAULT_STRENGTH = 5.0        # luma levels (0-255) at full mask, at the peak of a chip
MAX_RMS = 2.4                 # cap on the RMS luma offset: 20*log10(255/2.4) = 40.5 dB, margin for edge blocks
MASK_LOW, MASK_HIGH = 1.5, 6.0   # texture (mean |Laplacian|, luma levels) where the mask starts / is full
DET_CELL_PX = 6               # cell side at the detector's canonical size
SCALES = tuple(1.0 + 0.00625 * i for i in range(36))   # crop-and-rescale factors searched (crops up to 18%)
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
    shrunk: tuple[np.ndarray, ...]    # per SCALES entry: the map shrunk by 1/scale (undoes a crop + rescale)
    spectra: tuple[np.ndarray, ...]   # per SCALES entry: conj FFT of the shrunk map in a full-size canvas


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


@functools.lru_cache(maxsize=1)
def _crc_linear() -> tuple[np.ndarray, np.ndarray]:
    """CRC-24 of a 64-bit payload as an affine map over GF(2): crc(m) = G @ m + c0 (mod 2)."""
    zero = np.zeros(PAYLOAD_BITS, np.uint8)
    g = np.empty((CRC_BITS, PAYLOAD_BITS), np.int64)
    for i in range(PAYLOAD_BITS):
        unit = zero.copy()
        unit[i] = 1
        g[:, i] = _bits(_crc24_int(unit, 0), CRC_BITS)
    return g, _bits(_crc24_int(zero, _CRC_INIT), CRC_BITS).astype(np.int64)


def _crc_affine(key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(G, c) with check bits = G @ payload_bits + c (mod 2); c carries a key-derived mask so the
    check word is secret-dependent. The affine form lets the tests check many words at once."""
    g, c0 = _crc_linear()
    mask = _bits(int.from_bytes(hashlib.sha256(b"tessera-wm-crc|" + key).digest()[:3], "big"), CRC_BITS)
    return g, c0 ^ mask


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


def _grid(width: int, height: int) -> tuple[int, int]:
    """(rows, cols) of the cell grid: ~CELLS near-square cells exactly tiling the frame. Derived from
    the aspect ratio only, so any resize of the frame gives the same grid."""
    return max(1, round(math.sqrt(CELLS * height / width))), max(1, round(math.sqrt(CELLS * width / height)))


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


def _interp_weights(n_px: int, extent: float, n_cells: int) -> np.ndarray:
    """(n_px, n_cells) cos^2 interpolation weights at pixel centres for cells tiling `extent` pixels
    (extent may exceed n_px when the last sample block overhangs the frame)."""
    u = (np.arange(n_px) + 0.5) * n_cells / extent - 0.5      # position in cell units, centres at integers
    j0 = np.floor(u).astype(np.int64)
    t = u - j0
    w = np.zeros((n_px, n_cells + 2), np.float32)
    idx = np.arange(n_px)
    w[idx, np.clip(j0 + 1, 0, n_cells + 1)] = np.cos(np.pi * t / 2) ** 2
    w[idx, np.clip(j0 + 2, 0, n_cells + 1)] += np.sin(np.pi * t / 2) ** 2
    return w[:, 1:-1]


def _weights(width: int, height: int, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Interpolation weights (rows, cols) for a width x height frame sampled every `step` pixels."""
    rows, cols = _grid(width, height)
    return (_interp_weights(-(-height // step), height / step, rows),
            _interp_weights(-(-width // step), width / step, cols))


# The weights have two non-zeros per pixel: sparse products are exact, fast, and single-threaded
# (multithreaded OpenBLAS slows ~50x on a busy 2-core machine for these small products).
def _render(chips: np.ndarray, wy: np.ndarray, wx: np.ndarray) -> np.ndarray:
    """Chip grid -> smooth pattern: wy @ chips @ wx.T."""
    return np.asarray(sparse.csr_matrix(wy) @ (sparse.csr_matrix(wx) @ chips.T).T, dtype=np.float32)


def _project(image: np.ndarray, wy: np.ndarray, wx: np.ndarray) -> np.ndarray:
    """Pattern-domain image -> chip grid (the adjoint of _render): wy.T @ image @ wx."""
    rows = sparse.csr_matrix(wy.T) @ image
    return np.asarray((sparse.csr_matrix(wx.T) @ rows.T).T, dtype=np.float32)


def _chips(payload: int, key: bytes, layout: _Layout) -> np.ndarray:
    if not 0 <= payload < 1 << PAYLOAD_BITS:
        raise ValueError(f"payload must be an unsigned 64-bit int, got {payload!r}")
    g, c = _crc_affine(key)
    msg = _bits(payload, PAYLOAD_BITS)
    crc = (g @ msg + c) % 2
    coded = _conv_encode(np.concatenate([msg, crc.astype(np.uint8)]))
    coded_sign = 1.0 - 2.0 * coded.astype(np.float32)
    data = np.where(layout.bit_index >= 0, coded_sign[np.maximum(layout.bit_index, 0)], 0.0)
    return (layout.pilot + layout.sign * data).astype(np.float32)


# ---------------------------------------------------------------- embedding

def _luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma as float32 (explicit sums: a BLAS call here stalls on a busy machine)."""
    rgb = rgb.astype(np.float32)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def _rms(a: np.ndarray) -> float:
    return math.sqrt(float(np.mean(np.square(a)))) if a.size else 0.0


def _laplacian_energy(luma: np.ndarray) -> np.ndarray:
    """|4-neighbour Laplacian| of luma: large on texture and edges, ~0 on flat areas."""
    pad = np.pad(luma, 1, mode="edge")
    return np.abs(4 * luma - pad[:-2, 1:-1] - pad[2:, 1:-1] - pad[1:-1, :-2] - pad[1:-1, 2:])


def _erode(a: np.ndarray, size: int) -> np.ndarray:
    """Minimum over a size x size window (odd size) by shifted slices: ~4x faster than scipy's here."""
    r = size // 2
    h, w = a.shape
    pad = np.pad(a, r, mode="edge")
    cols = pad[:, :w].copy()
    for d in range(1, size):
        np.minimum(cols, pad[:, d: d + w], out=cols)
    out = cols[:h].copy()
    for d in range(1, size):
        np.minimum(out, cols[d: d + h], out=out)
    return out


def _stride(height: int, width: int) -> int:
    """Step of the grid the mask and offset are computed on (4 at 1080p, 3 at 720p, 1 below ~360p):
    the pattern is smooth over cells of 15+ px, so per-pixel work would buy nothing but time."""
    return max(1, round(math.sqrt(height * width) / 360))


def _saturating_add(src: np.ndarray, pos: np.ndarray, neg: np.ndarray, out: np.ndarray) -> None:
    np.minimum(src, 255 - pos, out=out)
    out += pos
    np.maximum(out, neg, out=out)
    out -= neg


class _Embedder:
    """Holds the pattern of one payload/key per frame size, computed once."""

    def __init__(self, payload: int, key: bytes, strength: float) -> None:
        if not 0 < strength <= 20:
            raise ValueError(f"strength must be in (0, 20] luma levels, got {strength!r}")
        self.payload, self.key, self.strength = payload, key, strength
        _chips(payload, key, _layout(key, 1, 1))            # validate payload and key now
        self._cache: dict[tuple[int, int], tuple[np.ndarray, int]] = {}

    def _pattern(self, height: int, width: int) -> tuple[np.ndarray, int]:
        if (height, width) not in self._cache:
            rows, cols = _grid(width, height)
            chips = _chips(self.payload, self.key, _layout(self.key, rows, cols))
            s = _stride(height, width)
            # sample the pattern at the centre of each s x s block the offset will cover
            wy, wx = _weights(width, height, s)
            pattern = _render(chips, wy, wx)
            self._cache[(height, width)] = (pattern, s)
        return self._cache[(height, width)]

    def __call__(self, frame_index: int, frame: np.ndarray) -> np.ndarray:
        if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame must be an H x W x 3 uint8 array, got {getattr(frame, 'shape', type(frame))} "
                             f"{getattr(frame, 'dtype', '')}")
        height, width = frame.shape[:2]
        pattern, s = self._pattern(height, width)
        # 1. texture of the subsampled luma, eroded so edges do not spill into the flat areas beside them
        k = max(3, int(round(math.sqrt(height * width / CELLS) / s / 3)) | 1)
        tex = ndimage.uniform_filter(_laplacian_energy(_luma(frame[::s, ::s])), k)
        tex = ndimage.uniform_filter(_erode(tex, k), k)
        # 2. mask: 0 on flat areas, 1 on texture; offset in whole luma levels, RMS capped
        delta = self.strength * np.clip((tex - MASK_LOW) / (MASK_HIGH - MASK_LOW), 0.0, 1.0) * pattern
        rounded, factor = np.rint(delta), 1.0
        for _ in range(4):                   # shrink until the rounded offset is under the cap
            rms = _rms(rounded)
            if rms <= MAX_RMS:
                break
            factor *= 0.995 * MAX_RMS / rms
            rounded = np.rint(delta * factor)
        else:
            rounded = np.trunc(delta * (MAX_RMS / max(_rms(delta), 1e-9)))   # |trunc(x)| <= |x|: always under
        delta = rounded.astype(np.int16)
        # 3. add with saturation, all in uint8: min(frame, 255 - pos) + pos, then max(., neg) - neg, each
        #    grid row of offsets broadcast over the s frame rows it covers (no full-size offset planes)
        pos = np.repeat(np.clip(delta, 0, 255).astype(np.uint8), 3 * s, axis=1)[:, : width * 3]
        neg = np.repeat(np.clip(-delta, 0, 255).astype(np.uint8), 3 * s, axis=1)[:, : width * 3]
        src = np.ascontiguousarray(frame).reshape(height, width * 3)
        out = np.empty_like(src)
        full = height // s * s
        _saturating_add(src[:full].reshape(-1, s, width * 3), pos[: full // s, None], neg[: full // s, None],
                        out[:full].reshape(-1, s, width * 3))
        if full < height:                    # the last, partial block of rows
            _saturating_add(src[full:], pos[-1], neg[-1], out[full:])
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


def _texture_mask(luma: np.ndarray, low: float, high: float, size: int) -> np.ndarray:
    """0..1 texture mask from the local mean |Laplacian| of luma (levels)."""
    return np.clip((ndimage.uniform_filter(_laplacian_energy(luma), size) - low) / (high - low), 0.0, 1.0)


def _whiten(frame: np.ndarray) -> np.ndarray:
    """Matched-filter weighting of one frame's luma at the canonical size.

    The content is noise to the detector: high-pass it at the cell scale, then weight each pixel by
    expected mark amplitude / local content variance (the mark lives where the mask is, at a
    roughly constant level, while content variance varies by orders of magnitude)."""
    luma = _luma(frame)
    high = luma - ndimage.gaussian_filter(luma, DET_CELL_PX, truncate=2.5)
    var = ndimage.uniform_filter(high * high, 4 * DET_CELL_PX + 1) + 4.0     # box: 1/4 the cost of a Gaussian
    mask = _texture_mask(luma, 1.0, 5.0, 5)
    return np.clip(8.0 * mask * high / var, -3.0, 3.0)


def _shrink(a: np.ndarray, scale: float) -> np.ndarray:
    """`a` resized by 1/scale (pixel-centre aligned, bilinear)."""
    h, w = a.shape
    sh, sw = int(round(h / scale)), int(round(w / scale))
    if (sh, sw) == (h, w):
        return a
    return ndimage.zoom(a, (sh / h, sw / w), order=1, grid_mode=True, mode="nearest")


def _stats(mean_map: np.ndarray, frames: int) -> DetectionStats:
    # 1. undoing a crop of 1 - 1/scale means shrinking the picture by 1/scale and finding where it
    #    sits in the full frame; the shrunk maps' spectra do not depend on the key, compute them once
    h, w = mean_map.shape
    shrunk = tuple(_shrink(mean_map, scale) for scale in SCALES)
    spectra = []
    for small in shrunk:
        canvas = np.zeros((h, w), np.float32)
        canvas[: small.shape[0], : small.shape[1]] = small
        spectra.append(np.conj(np.fft.rfft2(canvas)))
    return DetectionStats(mean_map, frames, shrunk, tuple(spectra))


def accumulate_frames(frames: Iterable[np.ndarray]) -> DetectionStats:
    """Average the whitened luma of frames at the canonical size (other sizes are resized first)."""
    total = None
    count = 0
    for frame in frames:
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame must be H x W x 3, got {frame.shape}")
        h, w = frame.shape[:2]
        cw, ch = _canonical_size(w, h)
        if (h, w) != (ch, cw):      # antialiased resize, like ffmpeg's scale in file_stats
            image = Image.fromarray(np.ascontiguousarray(frame, np.uint8))
            frame = np.asarray(image.resize((cw, ch), Image.Resampling.BILINEAR))
        white = _whiten(frame)
        if total is None:
            total = np.zeros_like(white)
        if white.shape != total.shape:
            raise ValueError(f"frame size changed mid-clip: {frame.shape[:2]} after {total.shape}")
        total += white
        count += 1
    if total is None:
        raise ValueError("no frames to detect on")
    return _stats(total / count, count)


def _pilot_peaks(stats: DetectionStats, pilot_ref: np.ndarray) -> list[tuple[float, float, int, int]]:
    """(z-score, scale, dy, dx) of the best pilot correlation at each scale, best first."""
    h, w = stats.mean_map.shape
    pilot_fft = np.fft.rfft2(pilot_ref)
    peaks = []
    noise = 0.0
    for scale, spectrum in zip(SCALES, stats.spectra):
        corr = np.fft.irfft2(spectrum * pilot_fft, s=(h, w))
        if not noise:   # spread of the correlation surface; a map shrunk by 1/scale has 1/scale^2 the pixels
            noise = float(np.std(corr)) + 1e-12
        # only offsets that keep the shrunk picture inside the frame (plus 1% slack) are possible
        my = h - int(round(h / scale)) + max(1, h // 100)
        mx = w - int(round(w / scale)) + max(1, w // 100)
        window = corr[:my, :mx]
        dy, dx = np.unravel_index(int(np.argmax(window)), window.shape)
        peaks.append((float(window[dy, dx] * scale / noise), scale, int(dy), int(dx)))
    return sorted(peaks, reverse=True)


def _read_chips(small: np.ndarray, dy: int, dx: int, wy: np.ndarray, wx: np.ndarray) -> np.ndarray:
    """Chip values with the shrunk picture `small` placed at (dy, dx) in the frame; cells outside
    the (cropped) picture read ~0, an erasure."""
    h, w = wy.shape[0], wx.shape[0]
    sh, sw = min(h - dy, small.shape[0]), min(w - dx, small.shape[1])
    chips = _project(small[:sh, :sw], wy[dy: dy + sh], wx[dx: dx + sw])
    # content left in the chips is smooth across cells, the mark is not: subtract the neighbours' mean
    return chips - (ndimage.uniform_filter(chips, 3, mode="nearest") * 9 - chips) / 8


def _despread(chips: np.ndarray, layout: _Layout) -> np.ndarray:
    """Soft coded bits (>0: bit 0): sum of each bit's cells times their spreading sign."""
    data = layout.bit_index >= 0
    return np.bincount(layout.bit_index[data], (chips * layout.sign)[data], minlength=_CODED_BITS).astype(np.float32)


def _crc_ok(msgs: np.ndarray, key: bytes) -> np.ndarray:
    """Per decoded message (B, 88): does its CRC field match the key-masked CRC of its payload?"""
    g, c = _crc_affine(key)
    expected = (msgs[:, :PAYLOAD_BITS].astype(np.int64) @ g.T + c) % 2
    return np.all(expected == msgs[:, PAYLOAD_BITS:], axis=1)


def decode_stats(stats: DetectionStats, key: bytes) -> WatermarkResult:
    """Look for the mark of `key` in a clip's stats: align with the pilot, despread, decode, check CRC."""
    h, w = stats.mean_map.shape
    rows, cols = _grid(w, h)
    layout = _layout(key, rows, cols)
    wy, wx = _weights(w, h)
    best: WatermarkResult | None = None
    # 1. synchronise: the best pilot correlation per scale; decode the MAX_DECODES best alignments
    for z, scale, dy, dx in _pilot_peaks(stats, _render(layout.pilot, wy, wx))[:MAX_DECODES]:
        # 2. read, despread, decode
        soft = _despread(_read_chips(stats.shrunk[SCALES.index(scale)], dy, dx, wy, wx), layout)
        msg = _viterbi(soft[None])[0]
        # 3. the CRC decides; confidence and bit accuracy compare the soft bits with the re-encoded word
        ok = bool(_crc_ok(msg[None], key)[0])
        coded_sign = 1.0 - 2.0 * _conv_encode(msg).astype(np.float32)
        norm = float(np.linalg.norm(soft)) * math.sqrt(_CODED_BITS)
        confidence = max(0.0, float(soft @ coded_sign) / norm) if norm > 0 else 0.0
        accuracy = float(np.mean(np.sign(soft) == coded_sign))
        payload = int("".join(map(str, msg[:PAYLOAD_BITS])), 2) if ok else None
        result = WatermarkResult(ok, payload, confidence, accuracy, z, scale, stats.frames)
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


def file_stats(path: Path, *, max_seconds: float = 12.0) -> DetectionStats:
    """Key-independent stats of the first `max_seconds` of a video file (decode once, try many keys)."""
    if max_seconds <= 0:
        raise ValueError(f"max_seconds must be > 0, got {max_seconds!r}")
    width, height, _ = probe(Path(path))
    return accumulate_frames(_read_canonical(Path(path), _canonical_size(width, height), max_seconds))


def detect_file(path: Path, *, key: bytes, max_seconds: float = 12.0) -> WatermarkResult:
    """Detect the mark of `key` in the first `max_seconds` of any video file ffmpeg can read."""
    return decode_stats(file_stats(path, max_seconds=max_seconds), key)
