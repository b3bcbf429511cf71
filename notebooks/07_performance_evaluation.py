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
# # 07 · Performance evaluation: how fast are parsing, search and encoding?
#
# **Purpose.** Latency of the steps a turn spends its time in, each next to a baseline measured
# in the same kernel (so the ratio, not the absolute figure, is what carries across machines):
# parsing with vs without vector normalization, hybrid search vs BM25 only, and batched vs
# one-by-one encoding.
#
# **Method.** A workspace on 600 demo notifications (seed 0); 40 texts sampled from the history
# titles, each call timed once after a warm-up; p50/p95 per step. The figures are for reading,
# not asserting: benchmarks/ holds the real speed checks (docs/performance.md).
#
# **Result.** The printed table: vector normalization and the vector half of hybrid search cost
# a few milliseconds on top of their baselines; batching the encoder is several times faster
# per text than one call per text.

# %%
import time

from evaluation import research

rng = research.seed_everything(0)
catalog_csv, history_csv = research.demo_data()
ws = research.open_workspace(catalog_csv, history_csv, history_rows=600, seed=0)
texts = [n["title"] for n in rng.sample(ws.notifications(), 40)]
ws.parse(texts[:5]), ws.search(texts[0])  # warm-up: model, index, caches

# %%
steps = {
    "parse (vectors)": research.latency_ms(lambda t: ws.parse([t]), texts),
    "parse (catalog only)": research.latency_ms(lambda t: ws.parse([t], vectors=False), texts),
    "search (hybrid)": research.latency_ms(lambda t: ws.search(t, 5), texts),
}
print(f"{'step':<22} {'p50 ms':>8} {'p95 ms':>8}")
for name, s in steps.items():
    print(f"{name:<22} {s['p50_ms']:>8.2f} {s['p95_ms']:>8.2f}")
ratio = steps["parse (vectors)"]["p50_ms"] / max(steps["parse (catalog only)"]["p50_ms"], 1e-6)
print(f"vector normalization costs ×{ratio:.2f} the catalog-only parse (p50)")

# %%
fresh = [f"{t} #{i}" for i, t in enumerate(texts)]  # not in the embedder's cache
started = time.perf_counter()
ws.embed(fresh)
batched = (time.perf_counter() - started) * 1000 / len(fresh)
one_by_one = research.latency_ms(lambda t: ws.embed([t + " ·"]), fresh)["mean_ms"]
print(
    f"encode: batched {batched:.2f} ms/text, one by one {one_by_one:.2f} ms/text "
    f"(×{one_by_one / max(batched, 1e-6):.1f})"
)
