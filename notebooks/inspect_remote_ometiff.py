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
# # Inspect a remote OME-TIFF
#
# See why an OME-TIFF looks wrong in the portal's viewer **without downloading it**: this notebook reads the whole
# TIFF structure (every IFD, SubIFD and tag) and the OME-XML over HTTP range requests, in a few round trips, and
# shows dimensions, channels, pyramid levels, tiles, compression, physical sizes and what the viewer will make of it.
#
# **How to use it**
# 1. Run all cells (*Run → Run All Cells*). With no URL given, it inspects the bundled demo file.
# 2. Paste the file's whole URL, `?token=…` included, into the **URL** field below and click **Inspect**.
#    The token never leaves this kernel: the field then shows the URL with `token=***`, and nothing secret is saved
#    in the notebook.
#
# Headless (CI, `nbconvert`, papermill): set the URL in the parameters cell, or the `OMETIFF_URL` environment
# variable (and `OMETIFF_TOKEN` for a separate token). The tables and figures below the form show the same results
# as its tabs.

# %% tags=["parameters"]
URL = ""  # the whole URL (token included) or a local path; empty: $OMETIFF_URL, else the bundled demo
TOKEN = ""  # optional separate token; empty: $OMETIFF_TOKEN

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from ometiff_helpers.display import plots, tables
from ometiff_helpers.display.inspect_app import InspectApp, pixel_channels_frame
from ometiff_helpers.target import resolve_target

pd.set_option("display.max_rows", 500)
pd.set_option("display.max_colwidth", 120)

target = resolve_target(URL, TOKEN)
print(target.describe())

# %% [markdown]
# ## The form
# Paste a URL and click **Inspect**; the results appear in the tabs.

# %%
app = InspectApp()
display(app)
report = app.run(target.location)
if report is None:
    raise RuntimeError(app.error)

# %% [markdown]
# ## Summary
# Format, size, dimensions, channels, pyramid, physical pixel size and extent, writer, and the verdict.

# %%
tables.summary_table(report)

# %%
tables.findings_table(report.findings)

# %% [markdown]
# ## Preview: the lowest level, as the viewer shows it
# The viewer (Avivator / Viv) computes each channel's default display from the **lowest** pyramid level: the domain
# is [min, max], the contrast limits are the 0.05 % and 99.95 % quantiles of the non-zero pixels (Viv's
# `getChannelStats`). Below: each channel through those limits in its colour, their additive composite, and a
# histogram per channel with the domain (dotted) and the contrast limits (black) marked. `--no-pixels` on the command
# line skips this reading.

# %%
if report.pixels is not None and report.pixels.arrays:
    print(
        f"level {report.pixels.level} of {report.pixels.level_count}: {report.pixels.width} x {report.pixels.height} px, "
        f"{report.pixels.tiles_read} tiles, {report.pixels.bytes_read:,} bytes in {report.pixels.rounds} extra round(s)"
    )
    for note in report.pixels.notices:
        print("note:", note)
    fig = plots.preview_figure(report.pixels)
    plt.show()
    fig = plots.channel_histograms_figure(report.pixels)
    plt.show()
else:
    print("No pixels read:", report.extra.get("pixels"))

# %%
pixel_channels_frame(report.pixels) if report.pixels is not None else None

# %% [markdown]
# ## Pyramid
# One row per resolution level. The sketch draws the levels to scale, nested, one colour per level.

# %%
tables.levels_table(report)

# %%
fig = plots.pyramid_figure(report.levels(), title=plots.short_name(report.display_name))
print("\n".join(plots.figure_labels(fig)))
plt.show()

# %% [markdown]
# ## Channels
# The swatch is the colour the viewer gives each channel (from the OME `Color` attribute).

# %%
tables.channels_table(report)

# %% [markdown]
# ## Planes and the TiffData → IFD mapping

# %%
tables.ome_part(report, "planes")

# %%
tables.ome_part(report, "tiffdata")

# %%
tables.ome_part(report, "plane_mapping")

# %% [markdown]
# ## IFDs and tags
# Every IFD and SubIFD, then every tag, decoded.

# %%
tables.ifds_table(report)

# %%
tables.tags_table(report)

# %% [markdown]
# ## Instrument, annotations, ROIs

# %%
tables.ome_part(report, "instruments")

# %%
tables.ome_part(report, "annotations")

# %%
tables.ome_part(report, "rois")

# %%
tables.ome_part(report, "shapes")

# %% [markdown]
# ## Raw OME-XML (first page)
# The **Raw XML** tab pages through all of it and searches it.

# %%
xml_lines = tables.pretty_xml_lines(report.xml_text or "")
print(f"{len(xml_lines):,} lines")
print("\n".join(xml_lines[:60]))

# %% [markdown]
# ## Requests
# What reading the metadata cost: requests, bytes and sequential rounds (each round is one network round trip).

# %%
tables.requests_summary(report.ledger, times=False)

# %%
tables.requests_table(report.ledger, times=False)

# %% [markdown]
# What a geotiff.js 2.x viewer (Viv, Vitessce) must fetch before it can draw its first tile, beside what this tool
# needed for all the metadata; and what the server answered to the probes the browser depends on (CORS preflight,
# ranges past the end, HEAD, offsets.json at the portal's locations).

# %%
tables.viewer_estimate_table(report)

# %%
tables.probes_table(report)

# %%
# NBVAL_IGNORE_OUTPUT
# (timings differ from run to run: this output is not saved in the committed notebook)
tables.requests_summary(report.ledger)
