"""Pixels: the lowest pyramid level read, decoded (imagecodecs) and measured as Viv does (optional extra)."""
