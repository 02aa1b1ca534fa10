"""How much smaller the Analyze page's payload is than the analysis it shows (512 tokens, 12 × 12).

The browser gets one layer/head, pruned graph edges and downsampled grid thumbnails, never the
whole [L][H][n][n] attention. Prints each view's JSON size and render time, then
`ratio=` (the full attention in plotly's most compact encoding, float32 base64) / (everything the
page sends for one selection).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashapp import ids
from dashapp.selection import default_selection
from dashapp.views import VIEWS
from tests.dashapp.synthetic import synthetic_analysis


def main() -> None:
    analysis = synthetic_analysis(n_words=510, layers=12, heads=12)
    selection = {**default_selection(), "layer": 5, "token": 40, "method": "integrated_gradients"}
    full = analysis.attention.astype(np.float32).nbytes * 4 // 3  # base64 of float32, as plotly sends arrays
    sent = 0
    for view in (v for v in VIEWS if v.graph and v.applies(analysis)):
        start = time.perf_counter()
        size = len(view.build(analysis, selection, "light").to_json())
        print(f"{view.id:28s} {size / 1e3:9.1f} kB  {time.perf_counter() - start:6.3f} s")
        sent += size
    print(
        f"{ids.VIEWS:28s} {sent / 1e3:9.1f} kB in all; the full attention would be {full / 1e6:.1f} MB "
        f"({analysis.n_tokens} tokens)"
    )
    print(f"ratio={full / sent:.1f}")


if __name__ == "__main__":
    main()
