"""Refusing a model too big for this worker before loading it, from its config's parameter count.

The count comes from building the model on the meta device (shapes, no memory), so it is exact for
every architecture the Auto classes know, tied embeddings counted once. Weights take that many
times the bytes of the dtype they load in (the config's dtype, as `from_pretrained` picks it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig

from interp.registry import ModelSpec
from interp.schema import ModelUnavailable

MEMINFO = Path("/proc/meminfo")


def load_dtype(config: Any) -> torch.dtype:
    """The dtype `from_pretrained` loads the weights in: the config's, else float32."""
    dtype = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None)
    return dtype if isinstance(dtype, torch.dtype) else torch.float32


def weight_bytes(
    config: Any, auto_class: type, dtype: torch.dtype | None = None
) -> tuple[int, int, torch.dtype]:
    """(bytes, parameters, dtype) of the weights a model of this config and Auto class loads (in `dtype`,
    else the config's)."""
    with torch.device("meta"):
        model = auto_class.from_config(config)
    parameters = sum(p.numel() for p in model.parameters())
    dtype = dtype or load_dtype(config)
    return parameters * dtype.itemsize, parameters, dtype


def memory_allowed(device: torch.device, spread: bool = False) -> tuple[int | None, str]:
    """(bytes, where that figure comes from) this worker can give one model's weights now; None: unknown.
    spread: a device map places the weights (accelerate): over every GPU's free memory, then the CPU's.

    Not $INTERPBOARD_MAX_MODEL_MEMORY_MB: that bounds the warm models together and lets the newest
    one stay even above it.
    """
    if spread:
        gpus = [torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count())]
        ram = available_ram()
        if ram is None:
            return None, ""
        where = f"free memory on {len(gpus)} GPU(s) and available memory" if gpus else "available memory"
        return ram + sum(gpus), f"{where}, for its device map"
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free), f"free memory on {device}"
    return available_ram(), "available memory"


def available_ram() -> int | None:
    """What the kernel says it can give without swapping (MemAvailable); None where it does not say."""
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def refuse_if_too_big(
    spec: ModelSpec,
    auto_class: type,
    device: torch.device,
    dtype: torch.dtype | None = None,
    make_room: Callable[[int], float] = lambda _: 0,
) -> None:
    """ModelUnavailable when the model's weights alone exceed what this worker allows.

    Short of memory, `make_room(bytes)` first unloads warm models (least recently used first, and only
    when that frees enough) and returns the bytes it freed: a worker refuses only what it cannot hold.
    They count as freed at once, as the kernel may return their pages a moment later.
    A config that cannot be read passes: loading it fails next, with the loader's own message.
    A device map counts every GPU and the CPU; one that puts modules on disk is never refused here.
    """
    if spec.offloads:
        return
    try:
        config = AutoConfig.from_pretrained(
            spec.load_path(), revision=spec.revision, trust_remote_code=False, local_files_only=True
        )
        needed, parameters, dtype = weight_bytes(config, auto_class, dtype)
    except Exception:  # noqa: BLE001 (any failure here is the loader's to report)
        return
    allowed, source = memory_allowed(device, spread=spec.device_map is not None)
    if allowed is None or needed <= allowed:
        return
    freed = int(make_room(needed - allowed))
    if needed > allowed + freed:
        raise ModelUnavailable(
            f"model {spec.id} needs ≈ {readable(needed)} for its weights ({count(parameters)} parameters "
            f"in {str(dtype).removeprefix('torch.')}), this worker allows {readable(allowed)} ({source})"
        )


def count(parameters: int) -> str:
    """8.03B, 494M, or the exact count of a small model."""
    if parameters >= 10**9:
        return f"{parameters / 1e9:.2f}B"
    return f"{parameters / 1e6:.0f}M" if parameters >= 10**7 else f"{parameters:,}"


def readable(size: int) -> str:
    """Bytes in GiB, or MiB below a tenth of one."""
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 / 10 else f"{size / 2**20:.2f} MiB"
