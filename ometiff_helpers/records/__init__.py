"""Troubleshooting records: a notebook run for a URL, saved, and rechecked later."""

from ometiff_helpers.records.core import *  # noqa: F403
from ometiff_helpers.records.core import __all__  # noqa: F401
