"""Audit a whole portal: thousands of files, one table (CSV or Parquet), on one machine or a Dask cluster.

``rows`` turns one file's report into a row and finding rows; ``inputs`` reads the list; ``writers`` keeps the
tables append-only and resumable; ``run`` runs the files with bounded concurrency; ``dask`` runs them on a cluster;
``summary`` condenses a finished table; ``cli`` is the ``audit`` command.
"""
