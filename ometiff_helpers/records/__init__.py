"""Troubleshooting records: the inspect notebook executed for one file, saved with its outputs, rechecked later.

``facts`` (what describes a file, and what a change is called), ``notebook`` (the packaged template, executing,
sanitising: shared with tools/build_notebooks.py), ``make`` (record), ``compare`` (outputs, the nbval way) and
``recheck`` (re-read the file with the packaged notebook: no code from the record runs).
"""

from ometiff_helpers.records.compare import CellChange, compare_notebooks
from ometiff_helpers.records.facts import Change, ChangeKind, RecordFacts, classify, parse_facts, record_facts
from ometiff_helpers.records.make import (
    DEMO,
    RECORDS_DIR,
    default_record_path,
    make_record,
    needs_token,
    read_record,
    record_info,
    split_token,
)
from ometiff_helpers.records.notebook import (
    FACTS_TAG,
    HEADER_TAG,
    INJECTED_TAG,
    RECORD_KEY,
    SANITIZE_CFG,
    load_sanitize_patterns,
    template_path,
)
from ometiff_helpers.records.recheck import RecheckResult, RecheckStatus, recheck

__all__ = [
    "DEMO",
    "FACTS_TAG",
    "HEADER_TAG",
    "INJECTED_TAG",
    "RECORDS_DIR",
    "RECORD_KEY",
    "SANITIZE_CFG",
    "CellChange",
    "Change",
    "ChangeKind",
    "RecheckResult",
    "RecheckStatus",
    "RecordFacts",
    "classify",
    "compare_notebooks",
    "default_record_path",
    "load_sanitize_patterns",
    "make_record",
    "needs_token",
    "parse_facts",
    "read_record",
    "recheck",
    "record_facts",
    "record_info",
    "split_token",
    "template_path",
]
