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
# The same form without any code: `./dev.sh app` (Voilà). The **Origin** field is the page the viewer runs on, the
# Origin the CORS probes send (default: the portal's, https://portal.hubmapconsortium.org).
#
# Headless (CI, `nbconvert`, papermill): set the URL in the parameters cell, or the `OMETIFF_URL` environment
# variable (and `OMETIFF_TOKEN` for a separate token). The sections below the form always describe the file the form
# inspected last: each new **Inspect** redraws them (and a failed one replaces them with a note saying what failed).

# %% tags=["parameters"]
URL = ""  # the whole URL (token included) or a local path; empty: $OMETIFF_URL, else the bundled demo
TOKEN = ""  # optional separate token; empty: $OMETIFF_TOKEN

# %%
import pandas as pd
from IPython.display import display

from ometiff_helpers.display import plots, tables
from ometiff_helpers.display.inspect_app import InspectApp, pixel_channels_frame
from ometiff_helpers.display.pyramid import pyramid_svg
from ometiff_helpers.display.text import TextLines, xml_head
from ometiff_helpers.display.verdict import verdict
from ometiff_helpers.target import resolve_target

pd.set_option("display.max_rows", 200)
pd.set_option("display.max_colwidth", 120)

target = resolve_target(URL, TOKEN)

# %% [markdown]
# ## The form
# Paste a URL and click **Inspect**. The verdict comes first (red: the viewer will not render the file, with what to
# do about each error), then the details in the tabs.

# %%
app = InspectApp()
display(app)
report = app.run(target.location)
if report is None:
    raise RuntimeError(app.error)


def source_line(rep):
    """Where the file shown below came from: the parameters, the environment, the demo, or the form."""
    if rep.display_name == target.display_name:
        return TextLines((target.describe(),))
    return TextLines((f"Inspecting the URL given in the form: {rep.display_name}",))


app.section(source_line)

# %% [markdown]
# ## Summary
# The verdict, then format, size, dimensions, channels, pyramid, physical pixel size and extent, writer; then every
# finding with its remedy.

# %%
app.section(verdict)

# %%
app.section(tables.summary_table)

# %%
app.section(lambda rep: tables.findings_table(rep.findings))

# %% [markdown]
# ## Preview: the lowest level, as the viewer shows it
# The viewer (Avivator / Viv) computes each channel's default display from the **lowest** pyramid level: the domain
# is [min, max], the contrast limits are the 0.05 % and 99.95 % quantiles of the non-zero pixels (Viv's
# `getChannelStats`). Below: each channel through those limits in its colour, their additive composite, and a
# histogram per channel with the domain (dotted) and the contrast limits (black) marked. `--no-pixels` on the command
# line skips this reading.

# %%
app.section(plots.preview_section)

# %%
app.section(plots.histograms_section)

# %%
app.section(lambda rep: pixel_channels_frame(rep.pixels) if rep.pixels is not None else "No pixels read.")

# %% [markdown]
# ## Pyramid
# One row per resolution level. The sketch draws every level (one bar per level, to scale on a log axis) with its
# size, tiles and compression.

# %%
app.section(tables.levels_table)

# %%
app.section(lambda rep: pyramid_svg(rep.levels(), title=plots.short_name(rep.display_name)))

# %% [markdown]
# ## Channels
# The swatch is the colour the viewer gives each channel (from the OME `Color` attribute).

# %%
app.section(tables.channels_table)

# %% [markdown]
# ## Planes and the TiffData → IFD mapping
# Long tables show their first and last rows here; the form's tabs page through all of them.

# %%
app.section(lambda rep: tables.ome_part(rep, "planes"))

# %%
app.section(lambda rep: tables.ome_part(rep, "tiffdata"))

# %%
app.section(lambda rep: tables.ome_part(rep, "plane_mapping"))

# %% [markdown]
# ## IFDs and tags
# Every IFD and SubIFD, then every tag, decoded.

# %%
app.section(tables.ifds_table)

# %%
app.section(tables.tags_table)

# %% [markdown]
# ## Instrument, annotations, ROIs

# %%
app.section(lambda rep: tables.ome_part(rep, "instruments"))

# %%
app.section(lambda rep: tables.ome_part(rep, "annotations"))

# %%
app.section(lambda rep: tables.ome_part(rep, "rois"))

# %%
app.section(lambda rep: tables.ome_part(rep, "shapes"))

# %% [markdown]
# ## Raw OME-XML (first page)
# The **Raw XML** tab pages through all of it and searches it.

# %%
app.section(lambda rep: xml_head(rep.xml_text or "", 60))

# %% [markdown]
# ## Requests
# What reading the metadata cost: requests, bytes and sequential rounds (each round is one network round trip).

# %%
app.section(lambda rep: tables.requests_summary(rep.ledger, times=False))

# %%
app.section(lambda rep: tables.requests_table(rep.ledger, times=False))

# %% [markdown]
# What a geotiff.js 2.x viewer (Viv, Vitessce) must fetch before it can draw its first tile, beside what this tool
# needed for all the metadata; and what the server answered to the probes the browser depends on (CORS preflight,
# ranges past the end, HEAD, offsets.json at the portal's locations).

# %%
app.section(tables.viewer_estimate_table)

# %%
app.section(tables.probes_table)

# %%
# NBVAL_IGNORE_OUTPUT
# (timings differ from run to run: this output is not saved in the committed notebook)
app.section(lambda rep: tables.requests_summary(rep.ledger))
