# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Database: what is in the catalog and the history?
#
# **Purpose.** Know the data before tuning on it: how many codes per category, how the history
# spreads over equipment and failure modes, how long the texts are, and whether every code a
# notification uses exists in the catalog.
#
# **Method.** The demo catalog and history read by the same CSV importer `pmark catalog import` /
# `pmark notifications import` use and stored in a fresh SQLite workspace (not embedded: nothing
# is searched here), then read back through the facade. Counts only; nothing is sampled.
#
# **Result.** The printed tables: category sizes, the most frequent equipment and failure
# codes (a long tail is what makes rare failures hard to retrieve), text length percentiles,
# and the number of notification codes missing from the catalog (expected 0 for clean data).

# %%
from collections import Counter

import numpy as np

from evaluation import research

research.seed_everything(0)
catalog_csv, history_csv = research.demo_data()
ws = research.open_workspace(catalog_csv, history_csv, seed=0, index=False)  # no search here
print(ws.table_counts())

# %%
catalog = ws.catalog()
print(Counter(e["category"] for e in catalog))
synonyms = [len(e["synonyms"]) for e in catalog]
print(f"synonyms per code: mean {np.mean(synonyms):.1f}, max {max(synonyms)}")

# %%
history = ws.notifications()
for field in ("equipment", "failure_mode", "location", "priority"):
    counts = Counter(n[field] for n in history)
    top = ", ".join(f"{code} {count}" for code, count in counts.most_common(5))
    print(f"{field:<13} {len(counts):>3} codes; most frequent: {top}")

# %%
lengths = np.array([len(n["text"]) for n in history])
print("text length p10/p50/p90:", np.percentile(lengths, [10, 50, 90]).round(1))
known = {(e["category"], e["code"]) for e in catalog}
missing = Counter(
    f"{f}={n[f]}"
    for n in history
    for f in ("location", "equipment", "failure_mode", "priority")
    if n[f] and (f, n[f]) not in known
)
print("codes used by notifications but missing from the catalog:", sum(missing.values()))
assert len(history) == ws.table_counts()["notifications"]
