"""Diagnosis: one rule per function over the joined TIFF and OME facts, network probes, viewer cost."""
