"""Text metadata of an MP4/MOV file, read by walking its boxes (the bundled ffmpeg has no ffprobe).

ffmpeg with `-movflags use_metadata_tags -metadata KEY=VALUE` writes moov/udta/meta with a
`hdlr` of type mdta, a `keys` box naming each key and an `ilst` whose items point at the keys
by 1-based index, each holding a `data` box. Without use_metadata_tags, ffmpeg (and iTunes)
write items named by their four-character code (©too, ©nam, ...) and no `keys` box; both
forms are read. The China implicit label lives under the key `AIGC`.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

# boxes whose payload is a list of child boxes, on the way to the metadata
_CONTAINERS = {b"moov", b"udta", b"trak"}
# `data` box type indicators (ISO/IEC 14496-12 well-known types) we decode as text
_UTF8, _UTF16 = 1, 2


class Mp4MetaError(ValueError):
    """The file is not a readable MP4/MOV box structure; names the file and the offset."""


@dataclass(frozen=True)
class MetaItem:
    key: str
    value: str
    box_path: str  # e.g. "moov/udta/meta"


@dataclass(frozen=True)
class _Box:
    type: bytes
    start: int  # offset of the box header
    payload: int  # offset of the payload
    end: int


def read_mp4_metadata(path: Path) -> dict[str, str]:
    """Text metadata items of the file as {key: value}; the first wins if a key repeats (see count_key)."""
    out: dict[str, str] = {}
    for item in metadata_items(path):
        out.setdefault(item.key, item.value)
    return out


def count_key(path: Path, key: str) -> int:
    """How many metadata items named `key` the file holds (across every metadata box)."""
    return sum(1 for item in metadata_items(path) if item.key == key)


def metadata_items(path: Path) -> tuple[MetaItem, ...]:
    """Every text item of every moov/udta/meta, moov/meta and trak/udta/meta box, in file order."""
    path = Path(path)
    with path.open("rb") as f:
        size = f.seek(0, 2)
        top = list(_boxes(f, 0, size, path))
        if not any(b.type == b"moov" for b in top):
            raise Mp4MetaError(f"{path}: no moov box (not an MP4/MOV file?)")
        items: list[MetaItem] = []
        _collect(f, top, "", path, items)
        return tuple(items)


def _collect(f: BinaryIO, boxes: list[_Box], where: str, path: Path, items: list[MetaItem]) -> None:
    for box in boxes:
        name = box.type.decode("latin-1")
        here = f"{where}/{name}" if where else name
        if box.type in _CONTAINERS:
            _collect(f, list(_boxes(f, box.payload, box.end, path)), here, path, items)
        elif box.type == b"meta" and where:  # top-level meta boxes (HEIF) are not MP4 metadata
            items.extend(_meta(f, box, here, path))


def _boxes(f: BinaryIO, start: int, end: int, path: Path) -> Iterator[_Box]:
    pos = start
    while pos + 8 <= end:
        f.seek(pos)
        size, kind = struct.unpack(">I4s", f.read(8))
        header = 8
        if size == 1:  # 64-bit size follows the type
            raw = f.read(8)
            if len(raw) < 8:
                raise Mp4MetaError(f"{path}: box {kind!r} at offset {pos}: truncated 64-bit size")
            size, header = struct.unpack(">Q", raw)[0], 16
        elif size == 0:  # extends to the end of its container
            size = end - pos
        if size < header or pos + size > end:
            raise Mp4MetaError(f"{path}: box {kind!r} at offset {pos}: size {size} does not fit its container (ends at {end})")
        yield _Box(kind, pos, pos + header, pos + size)
        pos += size


def _meta(f: BinaryIO, meta: _Box, where: str, path: Path) -> list[MetaItem]:
    # ISO `meta` is a full box (4 bytes version/flags before the children); QuickTime's is not
    f.seek(meta.payload + 4)
    children_at = meta.payload if f.read(4) == b"hdlr" else meta.payload + 4
    children = list(_boxes(f, children_at, meta.end, path))
    keys: list[str] | None = None
    for box in children:
        if box.type == b"keys":
            keys = _keys(f, box, path)
    items = []
    for box in children:
        if box.type != b"ilst":
            continue
        for item in _boxes(f, box.payload, box.end, path):
            key = _item_key(item.type, keys, path)
            for data in _boxes(f, item.payload, item.end, path):
                if data.type != b"data":
                    continue
                value = _data_text(f, data, path)
                if value is not None:
                    items.append(MetaItem(key=key, value=value, box_path=where))
    return items


def _keys(f: BinaryIO, box: _Box, path: Path) -> list[str]:
    f.seek(box.payload + 4)  # version/flags
    (count,) = struct.unpack(">I", f.read(4))
    keys, pos = [], box.payload + 8
    for i in range(count):
        f.seek(pos)
        size, namespace = struct.unpack(">I4s", f.read(8))
        if size < 8 or pos + size > box.end:
            raise Mp4MetaError(f"{path}: keys entry {i + 1} at offset {pos}: size {size} does not fit the keys box")
        keys.append(f.read(size - 8).decode("utf-8", errors="replace"))
        pos += size
    return keys


def _item_key(kind: bytes, keys: list[str] | None, path: Path) -> str:
    if keys is not None:
        (index,) = struct.unpack(">I", kind)
        if not 1 <= index <= len(keys):
            raise Mp4MetaError(f"{path}: ilst item points at key {index}, but the keys box has {len(keys)}")
        return keys[index - 1]
    return kind.decode("latin-1")


def _data_text(f: BinaryIO, box: _Box, path: Path) -> str | None:
    if box.end - box.payload < 8:
        raise Mp4MetaError(f"{path}: data box at offset {box.start} is shorter than its 8-byte header")
    f.seek(box.payload)
    (type_field,) = struct.unpack(">I", f.read(4))
    f.read(4)  # locale
    raw = f.read(box.end - box.payload - 8)
    kind = type_field & 0x00FFFFFF
    if kind not in (_UTF8, _UTF16):
        return None  # binary values (cover art, integers) are not text metadata
    try:
        return raw.decode("utf-8" if kind == _UTF8 else "utf-16-be")
    except UnicodeDecodeError as exc:
        raise Mp4MetaError(f"{path}: data box at offset {box.start}: not valid text: {exc}") from None
