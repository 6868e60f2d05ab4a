"""Tables, figures and notebook apps: the only part of the package that imports pandas, matplotlib or ipywidgets.

- `tables`: DataFrames (and HTML tables) from a report and the core's plain rows;
- `plots`: matplotlib figures (the pyramid sketch);
- `inspect_app`: the inspect notebook's ipywidgets app.

Import the submodule you need; importing this package imports none of them.
"""
