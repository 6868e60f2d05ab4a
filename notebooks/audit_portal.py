# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Audit a portal
#
# Inspect many OME-TIFFs at once and get one table: which files the viewer will not render, which lack physical
# sizes or a pyramid, which cannot even be read. Each file is read as the inspect notebook reads it (a few HTTP range
# requests, no download), 16 at a time.
#
# **How to use it**
# 1. Paste URLs (one per line, `?token=…` included or not) into `URLS` below, **or** give `LIST`: a text file with
#    one URL per line or a CSV with a `url` column (its other columns, such as a dataset id, are kept; a `token`
#    column is used and never shown). A token for every URL can also come from the `OMETIFF_TOKEN` environment
#    variable. With neither, the notebook audits a small sample portal served from this machine: the bundled demo,
#    defects made from it, a login page and a missing file.
# 2. Run all cells. The table is written to `OUT` (CSV or Parquet) as files finish; running again with the same `OUT`
#    skips the files already there.
#
# For thousands of files, or a Dask cluster, the command line does the same:
# `python -m ometiff_helpers audit LIST --out audit.csv --findings findings.csv [--dask tcp://scheduler:8786]`.

# %% tags=["parameters"]
URLS = """"""  # one URL or path per line
LIST = ""  # or: a text file of URLs, or a CSV with a 'url' column
OUT = ""  # the table to write (.csv or .parquet); empty: a new temporary file
CONCURRENCY = 16  # files in flight
FILTER = "n_errors > 0 or not ok"  # the rows to list below (a pandas query)
ROW = 0  # the row of the filtered table to open in the inspect notebook

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display
from tqdm.auto import tqdm

from ometiff_helpers.audit.inputs import items_from_lines, read_list
from ometiff_helpers.audit.rows import AuditSettings
from ometiff_helpers.audit.run import run_audit
from ometiff_helpers.audit.sample import serve_sample_portal
from ometiff_helpers.audit.summary import code_counts, inspect_command, outcome, outcome_counts
from ometiff_helpers.audit.writers import read_table

pd.set_option("display.max_rows", 200)
pd.set_option("display.max_colwidth", 80)

token = os.environ.get("OMETIFF_TOKEN") or None
if LIST:
    items = read_list(LIST, token=token)
    origin = f"the list {LIST}"
elif URLS.strip():
    items = items_from_lines(URLS.splitlines(), token=token)
    origin = "the pasted URLs"
else:
    sample_server, sample_urls = serve_sample_portal()
    items = items_from_lines(sample_urls)
    origin = "the sample portal on 127.0.0.1"
out = Path(OUT) if OUT else Path(tempfile.mkdtemp(prefix="audit-")) / "audit.csv"
findings_out = out.with_name(out.stem + "-findings" + out.suffix)
print(f"{len(items)} files from {origin}")

# %% [markdown]
# ## Run
# The bar shows files done, the rate and the time left, and running counts of unreadable files and of files that
# will not render.

# %%
# NBVAL_IGNORE_OUTPUT
bar = tqdm(total=len(items), unit="file")


def show_progress(stats):
    bar.update(stats.skipped + stats.done - bar.n)
    bar.set_postfix(unreadable=stats.unreadable, will_not_render=stats.will_not_render, refresh=False)


stats = run_audit(
    items,
    out,
    findings=findings_out,
    settings=AuditSettings(concurrency=CONCURRENCY),
    on_progress=show_progress,
)
bar.close()
print(f"{stats.done} files audited now, {stats.skipped} already in {out}")

# %% [markdown]
# ## Summary
# Files by outcome, worst first.

# %%
order = {item.key: i for i, item in enumerate(items)}
# list order, not finishing order
rows = sorted(read_table(out), key=lambda r: order.get(r["url"], len(order)))
table = pd.DataFrame(rows)
table.insert(1, "outcome", [outcome(r) for r in rows])
pd.Series(outcome_counts(rows), name="files").to_frame()

# %% [markdown]
# Finding codes: how many files have each (every code is explained in `docs/checks.md`).

# %%
codes = code_counts(rows)
fig, ax = plt.subplots(figsize=(7, 0.35 * max(3, len(codes)) + 0.8))
ax.barh(list(codes)[::-1], list(codes.values())[::-1], color="#4c72b0")
ax.set_xlabel("files")
ax.set_title("Finding codes")
fig.tight_layout()
print("\n".join(f"{code}: {n}" for code, n in codes.items()))
plt.show()

# %% [markdown]
# The slowest files (seconds spent on each, probes included).

# %%
# NBVAL_IGNORE_OUTPUT
table.sort_values("seconds", ascending=False)[["url", "outcome", "requests", "seconds"]].head(10)

# %% [markdown]
# ## The table
# One row per file; `FILTER` (a pandas query over the columns) chooses the rows shown. The whole table is in `OUT`,
# and one row per finding in the findings table beside it.

# %%
shown = table.query(FILTER) if FILTER else table
shown.drop(columns=["seconds"]).reset_index(drop=True)

# %% [markdown]
# ## Findings of the files shown

# %%
found = sorted(read_table(findings_out), key=lambda f: order.get(f["url"], len(order)))
findings = pd.DataFrame(found, columns=["url", "code", "severity", "where", "message"])
findings[findings["url"].isin(shown["url"])].reset_index(drop=True)

# %% [markdown]
# ## Open one row in the inspect notebook
# Row `ROW` of the filtered table. The command opens the inspect notebook on that file; the token stays in your
# `OMETIFF_TOKEN` and is never part of the command.

# %%
if len(shown):
    chosen = shown.iloc[min(ROW, len(shown) - 1)]
    display(Markdown(f"**{chosen['url']}**: {chosen['verdict']}"))
    print(inspect_command(chosen["url"]))
    print(chosen["error"] if not chosen["ok"] else f"findings: {chosen['codes']}")
else:
    print("no row matches FILTER")
