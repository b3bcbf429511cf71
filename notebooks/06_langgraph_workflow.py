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
# # 06 · LangGraph workflow: one conversation through the agent graph
#
# **Purpose.** See what the agent does with a report, node by node: validate → parse →
# normalize → (clarify) → retrieve → recommend → quality → respond, with a follow-up turn on
# the same thread, and where the time goes.
#
# **Method.** A workspace on 300 demo notifications and the local SQLite checkpointer (no LLM:
# PMark answers without one). The first message is a past notification's own title, so the
# report is realistic without being written for this catalog; the second asks about the first
# lead. Node latencies come from the agent's Prometheus histograms in this kernel.
#
# **Result.** The responses printed below (their kind, the parsed codes, the leads) and the
# per-node latency table; parsing and retrieval dominate, the graph's own overhead is small.

# %%
from evaluation import research

research.seed_everything(0)
catalog_csv, history_csv = research.demo_data()
ws = research.open_workspace(catalog_csv, history_csv, history_rows=300, seed=0)
report = ws.notifications(1)[0]["title"]
responses = ws.conversation([report, "1"])
print("report:", report)

# %%
for i, response in enumerate(responses, 1):
    print(f"turn {i}: kind={response.get('kind')}")
    for key in ("parsed", "recommendations", "text"):
        if key in response:
            value = response[key]
            print(f"  {key}: {str(value)[:300]}")
assert responses and all("kind" in r for r in responses)

# %%
latency = ws.node_latency()
print(f"{'node':<12} {'count':>5} {'p50 ms':>8} {'p95 ms':>8}")
for node, stats in latency.items():
    print(f"{node:<12} {int(stats['count']):>5} {stats['p50_ms']:>8.1f} {stats['p95_ms']:>8.1f}")
