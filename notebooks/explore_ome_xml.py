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
# # Explore an OME-XML
#
# For curators: browse the OME-XML metadata of an OME-TIFF (by URL, without downloading the pixels, or from disk) or
# of an `.ome.xml` / companion `.ome` file, even a 25 MB one with 20 000 ROIs.
#
# - **Tree**: expand and collapse elements (child counts shown); long lists of siblings come 100 at a time
#   (◀ ▶), in rows of fixed height; click an element for its path, attributes and text. *Go to* takes any path or
#   XPath.
# - **Search & XPath**: find text in tags, attribute names, attribute values and text; XPath 2.0 without
#   namespace prefixes (`//ROI[@ID='ROI:1']/Union/*`, `/OME/Image/Pixels/@SizeX`, `count(//Polygon)`). Every match
#   is counted; 200 rows are shown at a time (◀ ▶) and the export writes them all.
# - **Annotations**: grouped by Namespace, with what each annotates; Map annotations as key/value tables, XML
#   annotations pretty-printed.
# - **ROIs**: the ROIs and shapes, drawn to scale over the image, filtered by Z/C/T and ROI (one ROI is drawn
#   zoomed to its own extent, with the image outline beside it).
# - **Validation** against the OME 2016-06 schema, and **Export** of every table as CSV plus the XML.
#
# **How to use it**: run all cells. With no source given it opens the bundled demo OME-TIFF, served over HTTP from
# this machine like a portal link. Paste a URL (`?token=…` included), a local path or an `.ome.xml` path into
# **Source** and click **Load**; the token stays in this kernel and the field shows it as `token=***`. While the XML
# arrives, the bar under the form shows the bytes received of the total, the rate and the time left.
# The cells below the form show the same tables and figures as its tabs, for the file the notebook opened when it ran
# (named in the first of them); **Load** changes the form's tabs only. To see another file in these cells, set
# `SOURCE` below and run all cells again.

# %% tags=["parameters"]
SOURCE = ""  # URL (token included), local OME-TIFF or .ome.xml path; empty: $OMETIFF_URL, else the demo
TOKEN = ""  # optional separate token; empty: $OMETIFF_TOKEN

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from ometiff_helpers.display import plots
from ometiff_helpers.display.explore import model as ex
from ometiff_helpers.display.explore.app import ExploreApp, resolve_target

pd.set_option("display.max_rows", 60)
pd.set_option("display.max_colwidth", 100)

target = resolve_target(SOURCE, TOKEN)
print(f"Exploring {target.display_name} ({target.origin})")

# %% [markdown]
# ## The explorer

# %%
# NBVAL_IGNORE_OUTPUT
app = ExploreApp()
display(app)
explored = app.load(target.location)
if explored is None:
    raise RuntimeError(app.error)

# %%
tree = explored.tree
print(f"{explored.kind}: {plots.short_name(explored.display_name)}")
print(f"{len(tree):,} elements, {tree.size:,} bytes of XML, namespace {tree.namespace}")

# %% [markdown]
# ## Tree: the first level
# One row per child of the root (a page of at most 100), with its identifying attributes and what it holds.

# %%
ex.level_table(tree)

# %% [markdown]
# An element's path, attributes and text (what clicking it in the tree shows):

# %%
pixels = tree.xpath("/OME/Image[1]/Pixels")[0].index if tree.xpath("/OME/Image[1]/Pixels") else tree.root
print(tree.path(pixels), "—", ", ".join(f"{t} × {n}" for t, n in tree.child_tags(pixels)))
ex.node_table(tree, pixels)

# %% [markdown]
# ## Search and XPath
# A search looks in tag names, attribute names, attribute values and text (case-insensitive by default).

# %%
ex.search_table(tree.search("laser"))

# %% [markdown]
# XPath (2.0) needs no namespace prefixes. Every shape of every ROI, all the attributes of the ellipses, and a count:

# %%
ex.xpath_table(tree.xpath("//ROI/Union/*/@ID"))

# %%
ex.xpath_table(tree.xpath("//Ellipse/@*"))

# %%
ex.xpath_table(tree.xpath("count(//ROI/Union/*)"))

# %% [markdown]
# ## Annotations
# Grouped by Namespace, with the objects that refer to each annotation.

# %%
sections = ex.annotation_sections(explored)
ex.annotations_table(sections)

# %%
for section in sections:
    print(f"== Namespace: {section.namespace}")
    for a in section.annotations:
        print(f"{a.id} ({a.kind}) on {', '.join(a.annotates) or 'nothing refers to it'}")
        if a.pairs is not None:
            display(a.pairs)
        elif a.xml is not None:
            print(a.xml)
        elif a.value:
            print(f"  {a.value}")

# %% [markdown]
# ## ROIs
# The ROIs, their shapes, and the shapes drawn to scale over the image (dashed: the image's extent, in pixels).

# %%
chosen = ex.roi_selection(explored)
print(chosen.caption())
display(chosen.rois)

# %%
display(chosen.shapes)

# %%
fig = ex.roi_figure(explored)
print("\n".join(plots.figure_labels(fig)))
plt.show()

# %% [markdown]
# Filtered: one ROI, drawn zoomed to its extent (the inset shows where it lies in the image). The tab's Z, C, T
# and ROI filters call the same functions.

# %%
first_roi = explored.doc.rois[0].id if explored.doc is not None and explored.doc.rois else None
chosen = ex.roi_selection(explored, roi=first_roi)
print(chosen.caption())
display(chosen.shapes)
fig = ex.roi_figure(explored, roi=first_roi)
print("\n".join(plots.figure_labels(fig)))
plt.show()

# %% [markdown]
# ## Schema validation
# Against the OME 2016-06 XSD (offline; needs the `validate` extra). Each error names its line and element.

# %%
verdict, errors = ex.validation_table(explored)
print(verdict)
if len(errors):
    display(errors)

# %% [markdown]
# ## Export
# Every table as CSV and the XML as a file, into `exports/` next to this notebook (the **Export** tab asks for the
# folder).

# %%
written = ex.export_all(explored, "exports", extra={"schema_errors": errors})
print("\n".join(f"exports/{p.name}" for p in written))
