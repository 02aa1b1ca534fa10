"""What is particular to a model's attention, in the words the views use: the key/value head a query head
shares (GQA), sliding-window layers and their window, soft-capped logits (interp.architecture.describe,
stored as Analysis.architecture; empty for analyses made before it was recorded)."""

from __future__ import annotations

from typing import Any

Architecture = dict[str, Any]


def shares_kv_heads(arch: Architecture) -> bool:
    """Grouped-query (or multi-query) attention: fewer key/value heads than query heads."""
    return bool(arch) and int(arch.get("kv_heads") or 0) < int(arch.get("query_heads") or 0)


def kv_head(arch: Architecture, head: int) -> int | None:
    """The key/value head query head `head` reads, where heads share them."""
    kv = arch.get("kv_head_of_query") or []
    return int(kv[head]) if shares_kv_heads(arch) and 0 <= head < len(kv) else None


def head_label(arch: Architecture, head: int, short: bool = False) -> str:
    """ "head 5 · kv 1" (short: "h5·kv1") under GQA, else "head 5" ("h5")."""
    kv = kv_head(arch, head)
    if short:
        return f"h{head}" if kv is None else f"h{head}·kv{kv}"
    return f"head {head}" if kv is None else f"head {head} · kv {kv}"


def layer_window(arch: Architecture, layer: int) -> int | None:
    """The window of a sliding-window (local) layer; None for a global one."""
    layers = arch.get("layers") or []
    if not 0 <= layer < len(layers) or layers[layer].get("kind") != "sliding":
        return None
    return layers[layer].get("window")


def _mixed(arch: Architecture) -> bool:
    kinds = {entry.get("kind") for entry in arch.get("layers") or []}
    return len(kinds) > 1


def layer_label(arch: Architecture, layer: int, short: bool = False) -> str:
    """ "layer 3 · sliding 4096" for a local layer ("global" too where the model mixes both), else "layer 3"
    (short: "L3 · w4096", "L3")."""
    window = layer_window(arch, layer)
    if short:
        return f"L{layer}" if window is None else f"L{layer} · w{window}"
    if window is not None:
        return f"layer {layer} · sliding {window}"
    return f"layer {layer} · global" if _mixed(arch) else f"layer {layer}"


def architecture_summary(arch: Architecture) -> str:
    """One line about the model's attention, empty where there is nothing particular to say."""
    return " · ".join(architecture_notes(arch))


def architecture_notes(arch: Architecture) -> list[str]:
    """What is particular to the model's attention, one short note each (none for a plain model)."""
    parts = []
    if shares_kv_heads(arch):
        q, kv = int(arch["query_heads"]), int(arch["kv_heads"])
        parts.append(f"{q} query heads share {kv} key/value head{'s' if kv > 1 else ''} ({q // kv} each)")
    layers = arch.get("layers") or []
    sliding = [l for l in range(len(layers)) if layer_window(arch, l) is not None]
    if sliding:
        windows = sorted({layer_window(arch, l) for l in sliding})
        if len(sliding) == len(layers):
            parts.append(f"every layer sliding-window ({', '.join(map(str, windows))} tokens)")
        else:
            which = f"layer{'s' if len(sliding) > 1 else ''} {_ranges(sliding)}"
            parts.append(f"{which} sliding-window ({', '.join(map(str, windows))} tokens), the others global")
    if arch.get("attention_softcap"):
        parts.append(f"attention scores soft-capped at {arch['attention_softcap']:g}")
    if arch.get("final_logit_softcap"):
        parts.append(f"final logits soft-capped at {arch['final_logit_softcap']:g}")
    return parts


def _ranges(numbers: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> "0–2, 5, 7–8"."""
    out: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(str(start) if start == prev else f"{start}–{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(out)
