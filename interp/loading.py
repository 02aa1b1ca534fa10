"""Loading models: Auto classes per task, eager attention, a small thread-safe LRU per process.

CUDA is touched only at the first load, never at import: Celery forks worker processes after
importing this module, and a CUDA context does not survive a fork.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
import transformers
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from interp.registry import ModelSpec
from interp.schema import ModelUnavailable
from interp.settings import settings

DEVICE_ENV = "INTERPBOARD_DEVICE"

AUTO_CLASSES = {
    "mlm": AutoModelForMaskedLM,
    "sst": AutoModelForSequenceClassification,
    "mnli": AutoModelForSequenceClassification,
    "causal-lm": AutoModelForCausalLM,
    "similarity": AutoModel,
}
# Tokenizers without a real limit report this huge sentinel as model_max_length.
_NO_LIMIT = 1_000_000

transformers.utils.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()


@dataclass
class LoadedModel:
    spec: ModelSpec
    fingerprint: str
    head: str  # the Auto class key in AUTO_CLASSES
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    labels: tuple[str, ...] | None  # class names in the model's own order (classification heads)
    max_length: int  # tokens per sequence, specials included
    device: torch.device
    param_bytes: int
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
            raise ModelUnavailable(f"${DEVICE_ENV}={chosen!r} is not a device; use cpu, cuda or cuda:N") from None
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _max_length(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int:
    positions = getattr(model.config, "max_position_embeddings", None) or _NO_LIMIT
    # RoBERTa-style position ids start after the padding index, so fewer positions are usable.
    if model.config.model_type in ("roberta", "xlm-roberta", "camembert") and positions < _NO_LIMIT:
        positions -= (model.config.pad_token_id or 0) + 1
    declared = tokenizer.model_max_length if tokenizer.model_max_length < _NO_LIMIT else _NO_LIMIT
    return int(min(positions, declared))


def _labels(spec: ModelSpec, model: PreTrainedModel, head: str) -> tuple[str, ...] | None:
    if AUTO_CLASSES[head] is not AutoModelForSequenceClassification:
        return None
    n = model.config.num_labels
    if spec.labels is not None:
        if len(spec.labels) != n:
            raise ModelUnavailable(f"model {spec.id}: the registry names {len(spec.labels)} labels but the model has {n} classes")
        return spec.labels
    id2label = model.config.id2label or {}
    return tuple(str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(n))


def load_model(spec: ModelSpec, head: str) -> LoadedModel:
    """Load a registry model for one head, on the chosen device, ready for input gradients only."""
    available = spec.availability()
    if not available.ok:
        raise ModelUnavailable(f"model {spec.id} is unavailable: {available.detail}")
    fingerprint = spec.fingerprint()
    # Availability said the files are on this machine, so never wait on the network for them.
    options = dict(revision=spec.revision, trust_remote_code=False, local_files_only=True)
    device = pick_device()
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.load_path(), **options)
        model = AUTO_CLASSES[head].from_pretrained(spec.load_path(), attn_implementation="eager", **options)
        model.eval().requires_grad_(False).to(device)
    except Exception as exc:  # any loader failure is the same thing to the user: this model cannot be used here
        raise ModelUnavailable(f"model {spec.id} could not be loaded from {spec.path} onto {device}: "
                               f"{type(exc).__name__}: {exc}") from exc
    if not tokenizer.is_fast:
        raise ModelUnavailable(f"model {spec.id}: needs a fast tokenizer (for character offsets)")
    return LoadedModel(
        spec=spec,
        fingerprint=fingerprint,
        head=head,
        model=model,
        tokenizer=tokenizer,
        labels=_labels(spec, model, head),
        max_length=_max_length(model, tokenizer),
        device=device,
        param_bytes=sum(p.numel() * p.element_size() for p in model.parameters()),
    )


class ModelCache:
    """Loaded models by (spec, fingerprint, head), least recently used first out.

    Bounded by count ($INTERPBOARD_MAX_MODELS, default 3) and, if set, by total parameter
    memory ($INTERPBOARD_MAX_MODEL_MEMORY_MB); the newest model always stays.
    """

    def __init__(self) -> None:
        self._models: OrderedDict[tuple[ModelSpec, str, str], LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[ModelSpec, str, str], threading.Lock] = {}

    def get(self, spec: ModelSpec, head: str) -> LoadedModel:
        key = (spec, spec.fingerprint(), head)  # the whole spec: its labels shape the loaded model too
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # one thread loads a given model; others wait for it, not for other models
            with self._lock:
                if key in self._models:
                    return self._models[key]
            loaded = load_model(spec, head)
            with self._lock:
                self._models[key] = loaded
                self._evict()
                self._loading.pop(key, None)
            return loaded

    def _evict(self) -> None:
        max_models, max_mb = settings().engine.max_models, settings().engine.max_model_memory_mb
        max_bytes = max_mb * 2**20 if max_mb else float("inf")
        while len(self._models) > 1 and (
            len(self._models) > max_models or sum(m.param_bytes for m in self._models.values()) > max_bytes
        ):
            _, dropped = self._models.popitem(last=False)
            if dropped.device.type == "cuda":
                torch.cuda.empty_cache()

    def clear(self) -> None:
        with self._lock:
            self._models.clear()

    def __len__(self) -> int:
        return len(self._models)


MODELS = ModelCache()
