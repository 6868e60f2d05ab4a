"""Byte sources: HTTP range requests, local files and bytes, with one budget, a ledger, coalescing and a cache."""
