"""Read and diagnose the metadata of (remote) OME-TIFF files over HTTP range requests."""

__version__ = "0.1.0"
