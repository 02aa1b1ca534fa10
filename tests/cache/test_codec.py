"""The value format on its own: exact roundtrips, header checks, metadata without arrays."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
import safetensors.numpy
import zstandard

from cache import codec
from cache.codec import RejectedValue

DTYPES = [
    "bool",
    "uint8",
    "int8",
    "int16",
    "uint16",
    "int32",
    "int64",
    "float16",
    "float32",
    "float64",
    "complex64",
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 5), (2, 3, 4, 5)])
def test_roundtrip_is_bit_exact(dtype, shape):
    rng = np.random.default_rng(1)
    array = rng.integers(0, 256, size=int(np.prod(shape)) * np.dtype(dtype).itemsize, dtype=np.uint8)
    array = array.view(np.uint8 if dtype == "bool" else dtype).reshape(shape)
    if dtype == "bool":
        array = array.astype(bool)
    record = codec.decode(codec.encode({"m": 1}, {"x": array}))
    assert record.arrays["x"].dtype == array.dtype
    assert record.arrays["x"].shape == array.shape
    assert record.arrays["x"].tobytes() == array.tobytes()
    assert record.meta == {"m": 1}


def test_blob_starts_with_magic_and_version():
    blob = codec.encode({}, {})
    assert blob.startswith(codec.MAGIC + bytes([codec.VERSION]))


def test_meta_is_read_without_touching_the_arrays():
    meta = {"tokens": ["a", "b"], "created_at": 1.5}
    arrays = {"attention": np.zeros((4, 4), np.float16)}
    payload = safetensors.numpy.save(arrays, metadata={"meta": orjson.dumps(meta).decode()})
    header_only = payload[: 8 + int.from_bytes(payload[:8], "little")]  # the array bytes are missing
    blob = codec.HEADER + zstandard.ZstdCompressor().compress(header_only)
    assert codec.decode_meta(blob) == meta
    with pytest.raises(RejectedValue):
        codec.decode(blob)


@pytest.mark.parametrize(
    "blob",
    [
        "a string",
        12,
        None,
        b"",
        b"IBRS",
        codec.MAGIC + b"\x09" + b"x" * 20,
        codec.HEADER + b"\x28\xb5\x2f\xfd" + b"\x00" * 16,  # zstd magic, nonsense frame
        codec.HEADER + zstandard.ZstdCompressor(write_content_size=False).compress(b"x" * 100),
        codec.HEADER + zstandard.ZstdCompressor().compress(b"\x05\x00\x00\x00\x00\x00\x00\x00[1,2]"),
        codec.HEADER + zstandard.ZstdCompressor().compress(b"\xff" * 8),
    ],
)
def test_foreign_or_damaged_values_are_rejected(blob):
    with pytest.raises(RejectedValue):
        codec.decode(blob)
    with pytest.raises(RejectedValue):
        codec.decode_meta(blob)


def test_forged_content_size_is_refused_before_allocating(monkeypatch):
    monkeypatch.setattr(codec, "MAX_DECODED_BYTES", 1000)
    with pytest.raises(RejectedValue, match="implausible size"):
        codec.decode(codec.encode({}, {"big": np.zeros(2000, np.uint8)}))
