"""One stored value: JSON metadata plus named numpy arrays as raw bytes. Never pickle.

Layout: MAGIC + version byte + zstd(safetensors(arrays, metadata={"meta": JSON})). Before
saving, every array's bytes are shuffled into planes (byte 0 of every element, then byte 1, ...):
float16 attention has a fairly predictable high byte and a near-random low byte, and zstd packs
them ~10 % tighter apart than interleaved. Dtypes and shapes survive as given.

A blob without our header (a planted pickle, another program's value, a newer format) raises
`RejectedValue`; nothing in it is interpreted beyond that check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import safetensors.numpy
import zstandard

MAGIC = b"IBRS"  # interpboard result store
VERSION = 1
HEADER = MAGIC + bytes([VERSION])
ZSTD_LEVEL = 3  # higher levels cost 3-50x the time for < 1 % on attention (benchmarks/cache_size.py)
MAX_HEADER_BYTES = 64 << 20
MAX_DECODED_BYTES = 4 << 30  # far above any analysis; refuses a forged size before allocating it
_STORABLE_KINDS = "biufc"  # bool, signed, unsigned, float, complex


class RejectedValue(ValueError):
    """A stored value that is not a record of ours, or is damaged. It is never loaded."""


@dataclass(frozen=True)
class Record:
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]


def encode(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """Raises TypeError/ValueError naming the problem when meta or an array cannot be stored."""
    if not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict, not {type(meta).__name__}")
    if not isinstance(arrays, dict):
        raise TypeError(f"arrays must be a dict of name -> numpy array, not {type(arrays).__name__}")
    try:
        meta_json = orjson.dumps(meta, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    except orjson.JSONEncodeError as exc:
        raise TypeError(f"meta is not JSON-serialisable: {exc}") from None
    planes = {name: _shuffle(_storable(name, array)) for name, array in arrays.items()}
    payload = safetensors.numpy.save(planes, metadata={"meta": meta_json})
    return HEADER + zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(payload)


def decode(blob: object) -> Record:
    payload = _decompress(blob)
    meta = _meta_of(_safetensors_header(payload))
    try:
        planes = safetensors.numpy.load(payload)
    except Exception as exc:  # noqa: BLE001 - SafetensorError derives from Exception only
        raise RejectedValue(f"damaged arrays: {exc}") from None
    return Record(meta=meta, arrays={name: _unshuffle(a) for name, a in planes.items()})


def decode_meta(blob: object) -> dict[str, Any]:
    """The metadata alone: decompresses only the safetensors header, never the arrays."""
    body = _body(blob)
    try:
        with zstandard.ZstdDecompressor().stream_reader(body) as reader:
            size = int.from_bytes(_read_exact(reader, 8), "little")
            if size > MAX_HEADER_BYTES:
                raise RejectedValue("header too large")
            return _meta_of(_read_exact(reader, size))
    except zstandard.ZstdError as exc:
        raise RejectedValue(f"damaged compression: {exc}") from None


def _storable(name: object, array: object) -> np.ndarray:
    if not isinstance(name, str) or not name or name == "__metadata__":
        raise ValueError(f"array name {name!r} is not allowed (a non-empty string other than __metadata__)")
    if not isinstance(array, (np.ndarray, np.generic)):
        raise TypeError(f"array {name!r} must be a numpy array, not {type(array).__name__}")
    array = np.asarray(array)
    if array.dtype.kind not in _STORABLE_KINDS:
        raise ValueError(
            f"array {name!r} has dtype {array.dtype}; only numeric and bool arrays can be stored"
        )
    return array.astype(array.dtype.newbyteorder("<"), order="C", copy=False)


def _shuffle(array: np.ndarray) -> np.ndarray:
    width = array.dtype.itemsize
    if width == 1:
        return array
    planes = array.reshape(-1).view(np.uint8).reshape(-1, width).T.copy()
    return planes.reshape(-1).view(array.dtype).reshape(array.shape)


def _unshuffle(planes: np.ndarray) -> np.ndarray:
    width = planes.dtype.itemsize
    if width == 1:
        return planes
    interleaved = np.empty((planes.size, width), dtype=np.uint8)
    for k, plane in enumerate(planes.reshape(-1).view(np.uint8).reshape(width, -1)):
        interleaved[:, k] = plane  # column by column: numpy's transposing copy is ~4x slower here
    return interleaved.reshape(-1).view(planes.dtype).reshape(planes.shape)


def _body(blob: object) -> bytes:
    if not isinstance(blob, bytes):
        raise RejectedValue(f"stored value is {type(blob).__name__}, not bytes")
    if not blob.startswith(MAGIC):
        raise RejectedValue("stored value lacks the interpboard header")
    version = blob[len(MAGIC) : len(HEADER)]
    if version != bytes([VERSION]):
        raise RejectedValue(f"stored value has format version {version!r}; this reader knows {VERSION}")
    return blob[len(HEADER) :]


def _decompress(blob: object) -> bytes:
    body = _body(blob)
    try:
        if zstandard.frame_content_size(body) > MAX_DECODED_BYTES:
            raise RejectedValue("stored value claims an implausible size")
        return zstandard.ZstdDecompressor().decompress(body)
    except zstandard.ZstdError as exc:
        raise RejectedValue(f"damaged compression: {exc}") from None


def _safetensors_header(payload: bytes) -> bytes:
    size = int.from_bytes(payload[:8], "little")
    if len(payload) < 8 + size:
        raise RejectedValue("truncated header")
    return payload[8 : 8 + size]


def _meta_of(header: bytes) -> dict[str, Any]:
    try:
        meta = orjson.loads(orjson.loads(header)["__metadata__"]["meta"])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise RejectedValue(f"damaged metadata: {exc!r}") from None
    if not isinstance(meta, dict):
        raise RejectedValue("metadata is not a JSON object")
    return meta


def _read_exact(reader: Any, size: int) -> bytes:
    data = reader.read(size)
    while len(data) < size:
        more = reader.read(size - len(data))
        if not more:
            raise RejectedValue("truncated value")
        data += more
    return data
