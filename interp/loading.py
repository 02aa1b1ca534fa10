"""Loading models: the task engine's Auto class, eager attention, a small thread-safe LRU per process.

CUDA is touched only at the first load, never at import: Celery forks worker processes after
importing this module, and a CUDA context does not survive a fork.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import transformers
from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from interp.lru import LoadingLRU
from interp.model_size import refuse_if_too_big
from interp.registry import ModelSpec
from interp.schema import ModelUnavailable
from interp.settings import settings
from interp.task_specs import TargetKind, task_spec
from interp.tasks import engine_for

DEVICE_ENV = "INTERPBOARD_DEVICE"

# Tokenizers without a real limit report this huge sentinel as model_max_length.
_NO_LIMIT = 1_000_000

transformers.utils.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()


@dataclass
class LoadedModel:
    spec: ModelSpec
    fingerprint: str
    task: str  # the task it was loaded for: its engine chose the Auto class (the model's head)
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    labels: tuple[str, ...] | None  # class names in the model's own order (classification heads)
    max_length: int  # tokens per sequence, specials included
    device: torch.device  # where its inputs go: the input embeddings' (a device map may spread the rest)
    param_bytes: int  # in memory (modules a device map offloads to disk are not)
    offload_folder: str | None = None  # its disk-offloaded weights (removed when it is unloaded)
    lock: threading.Lock = field(default_factory=threading.Lock)  # one computation per model at a time

    @property
    def embeddings(self) -> torch.nn.Module:
        return self.model.get_input_embeddings()


def pick_device() -> torch.device:
    chosen = settings().engine.device.strip()
    if chosen:
        try:
            return torch.device(chosen)
        except RuntimeError:
            raise ModelUnavailable(
                f"${DEVICE_ENV}={chosen!r} is not a device; use cpu, cuda or cuda:N"
            ) from None
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _max_length(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int:
    positions = getattr(model.config, "max_position_embeddings", None) or _NO_LIMIT
    # RoBERTa-style position ids start after the padding index, so fewer positions are usable.
    if model.config.model_type in ("roberta", "xlm-roberta", "camembert") and positions < _NO_LIMIT:
        positions -= (model.config.pad_token_id or 0) + 1
    declared = tokenizer.model_max_length if tokenizer.model_max_length < _NO_LIMIT else _NO_LIMIT
    return int(min(positions, declared))


def _labels(spec: ModelSpec, model: PreTrainedModel, task: str) -> tuple[str, ...] | None:
    if task_spec(task).target is not TargetKind.CLASS:
        return None
    n = model.config.num_labels
    if spec.labels is not None:
        if len(spec.labels) != n:
            raise ModelUnavailable(
                f"model {spec.id}: the registry names {len(spec.labels)} labels but the model has {n} classes"
            )
        return spec.labels
    id2label = model.config.id2label or {}
    return tuple(str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(n))


def load_model(spec: ModelSpec, task: str, make_room: Callable[[int], float] = lambda _: 0) -> LoadedModel:
    """Load a registry model with its task engine's Auto class, on the chosen device, for input gradients.

    make_room(bytes): unloads warm models when memory is short (see refuse_if_too_big)."""
    available = spec.availability()
    if not available.ok:
        raise ModelUnavailable(f"model {spec.id} is unavailable: {available.detail}")
    fingerprint = spec.fingerprint()
    # Availability said the files are on this machine, so never wait on the network for them.
    options = dict(revision=spec.revision, trust_remote_code=False, local_files_only=True)
    device, dtype = pick_device(), getattr(torch, spec.load_dtype())
    # With a device map, accelerate spreads the weights over every GPU and the CPU (or offloads them to disk).
    refuse_if_too_big(spec, engine_for(task).auto_class, device, dtype, make_room)
    device_map, offload = spec.load_device_map(), None
    if spec.offloads:
        offload = {"offload_folder": tempfile.mkdtemp(prefix="interpboard-offload-")}
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.load_path(), **options)
        auto_class = engine_for(task).auto_class
        # The dtype always: transformers otherwise loads in the config's (bfloat16 checkpoints on a CPU too).
        model = auto_class.from_pretrained(
            spec.load_path(),
            attn_implementation="eager",
            dtype=dtype,
            device_map=device_map,
            **options,
            **(offload or {}),
        )
        model.eval().requires_grad_(False)
        if device_map is None:
            model.to(device)
        else:  # accelerate's hooks move each module's inputs to its device, and the outputs back
            device = input_device(model)
    except (
        Exception
    ) as exc:  # any loader failure is the same thing to the user: this model cannot be used here
        if offload:
            shutil.rmtree(offload["offload_folder"], ignore_errors=True)
        raise ModelUnavailable(
            f"model {spec.id} could not be loaded from {spec.path} onto {device}: {type(exc).__name__}: {exc}"
        ) from exc
    if not tokenizer.is_fast:
        raise ModelUnavailable(f"model {spec.id}: needs a fast tokenizer (for character offsets)")
    if spec.chat_template and not tokenizer.chat_template:
        raise ModelUnavailable(
            f"model {spec.id}: the registry asks for its chat template, its tokenizer has none"
        )
    return LoadedModel(
        spec=spec,
        fingerprint=fingerprint,
        task=task,
        model=model,
        tokenizer=tokenizer,
        labels=_labels(spec, model, task),
        max_length=_max_length(model, tokenizer),
        device=device,
        param_bytes=sum(p.numel() * p.element_size() for p in model.parameters() if p.device.type != "meta"),
        offload_folder=offload["offload_folder"] if offload else None,
    )


def input_device(model: PreTrainedModel) -> torch.device:
    """Where a device-mapped model takes its inputs: its input embeddings' device, or where accelerate runs
    them when they are offloaded (their weights then wait on the meta device)."""
    embeddings = model.get_input_embeddings()
    device = embeddings.weight.device
    if device.type == "meta":
        device = torch.device(
            getattr(getattr(embeddings, "_hf_hook", None), "execution_device", None) or "cpu"
        )
    return device


class ModelCache:
    """Loaded models by (spec, fingerprint, task), least recently used first out.

    Bounded by count ($INTERPBOARD_MAX_MODELS, default 3) and, if set, by total parameter
    memory ($INTERPBOARD_MAX_MODEL_MEMORY_MB); the newest model always stays.
    """

    def __init__(self) -> None:
        self._models: LoadingLRU[tuple[ModelSpec, str, str], LoadedModel] = LoadingLRU(
            _model_limits, size=lambda m: m.param_bytes, on_evict=_release
        )

    def get(self, spec: ModelSpec, task: str) -> LoadedModel:
        key = (spec, spec.fingerprint(), task)  # the whole spec: its labels shape the loaded model too
        # One thread loads a given model; others wait for it, not for other models.
        return self._models.get_or_load(key, lambda: load_model(spec, task, self._models.shed))

    def __len__(self) -> int:
        return len(self._models)


def _model_limits() -> tuple[int, float]:
    engine = settings().engine
    return engine.max_models, engine.max_model_memory_mb * 2**20 if engine.max_model_memory_mb else float(
        "inf"
    )


def _release(dropped: LoadedModel) -> None:
    if dropped.device.type == "cuda":
        torch.cuda.empty_cache()
    if dropped.offload_folder:
        shutil.rmtree(dropped.offload_folder, ignore_errors=True)


MODELS = ModelCache()
