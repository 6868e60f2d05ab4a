"""Findings: problems that do not stop reading, recorded by the reader and produced by the checks."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How bad a finding is for the portal's viewer."""

    ERROR = "error"  # the viewer will not render the file
    WARNING = "warning"  # renders wrongly or slowly
    INFO = "info"  # worth knowing

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class Finding:
    """One problem: a stable upper-case code, a severity, plain words with the evidence, and the remedy."""

    code: str
    severity: Severity
    message: str
    remedy: str = ""
    where: str = ""  # e.g. "IFD 3", "IFD 0 / SubIFD 2", "Channel:0:1", "offset 1,234"

    def as_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "remedy": self.remedy,
            "where": self.where,
        }
