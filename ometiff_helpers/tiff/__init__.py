"""TIFF structure: the format's codes as data, frozen records, parsing, and the round planner."""
