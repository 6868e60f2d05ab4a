"""Findings: problems that do not stop reading, recorded by the reader and produced by the checks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ometiff_helpers.frozen import record


class Severity(StrEnum):
    """How bad a finding is for the portal's viewer."""

    ERROR = "error"  # the viewer will not render the file
    WARNING = "warning"  # renders wrongly or slowly
    INFO = "info"  # worth knowing

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@record
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


#: distinct findings one ``FindingLog`` keeps; past this, findings are only counted (one last finding says how many)
MAX_FINDINGS = 100
#: places (IFD paths, element IDs) a merged finding remembers by name; past this they are only counted
_MAX_PLACES = 5


@dataclass
class _Group:
    """Repeats of one finding: the first one, how many things it stands for, and where they were."""

    first: Finding
    count: int
    plural: str
    scope: str
    places: dict[str, None]  # the first few places, by name
    seen: set[str]  # every place (at most one per IFD or element, so bounded by the reader's own limits)

    @property
    def n_places(self) -> int:
        return len(self.seen)


class FindingLog:
    """Collects findings with a bounded size, whatever the input.

    Findings with the same ``(code, key)`` are merged into one that gives the count and the first occurrence
    (``key`` defaults to the message, so only exact repeats merge). A reader passes ``key`` = the kind of object
    ("SubIFD", "IFD") to aggregate a code over every object of that kind, ``count`` when one call stands for several
    things, ``plural`` to name them ("entries of unknown type") and ``scope`` to name the objects ("SubIFD"): the
    merged message then reads "4,095 entries of unknown type in 2,000 SubIFDs, first at IFD 0 / SubIFD 0: ...".
    At most ``max_findings`` distinct findings are kept; the rest are counted in one last ``FINDINGS_TRUNCATED``.
    """

    def __init__(self, *, max_findings: int = MAX_FINDINGS) -> None:
        self.max_findings = max_findings
        self._groups: dict[tuple[str, str], _Group] = {}
        self._dropped: dict[str, int] = {}

    def add(
        self,
        code: str,
        severity: Severity,
        message: str,
        *,
        remedy: str = "",
        where: str = "",
        key: str = "",
        count: int = 1,
        plural: str = "",
        scope: str = "",
    ) -> None:
        """Record one finding (standing for ``count`` things), merged with earlier ones of the same code and key."""
        k = (code, key or message)
        group = self._groups.get(k)
        if group is None:
            if len(self._groups) >= self.max_findings:
                self._dropped[code] = self._dropped.get(code, 0) + count
                return
            group = _Group(Finding(code, severity, message, remedy, where), 0, plural, scope, {}, set())
            self._groups[k] = group
        group.count += count
        if where and where not in group.seen:
            group.seen.add(where)
            if len(group.places) < _MAX_PLACES:
                group.places[where] = None

    def extend(self, findings: Iterable[Finding]) -> None:
        """Add findings made elsewhere (each keyed by its message)."""
        for f in findings:
            self.add(f.code, f.severity, f.message, remedy=f.remedy, where=f.where)

    def __len__(self) -> int:
        """Distinct findings kept (not counting the final truncation notice)."""
        return len(self._groups)

    @property
    def dropped(self) -> int:
        """How many findings were not kept because the log was full."""
        return sum(self._dropped.values())

    def findings(self) -> tuple[Finding, ...]:
        """The merged findings in first-seen order, then the truncation notice when some were dropped."""
        out = [_merged(g) for g in self._groups.values()]
        if self._dropped:
            codes = ", ".join(
                f"{code} x {n:,}" for code, n in sorted(self._dropped.items(), key=lambda kv: -kv[1])[:5]
            )
            more = " ..." if len(self._dropped) > 5 else ""
            out.append(
                Finding(
                    "FINDINGS_TRUNCATED",
                    Severity.INFO,
                    f"and {self.dropped:,} more findings not listed (only the first {self.max_findings:,} "
                    f"distinct ones are kept): {codes}{more}.",
                    "Fix the problems listed first; the file is probably damaged throughout.",
                )
            )
        return tuple(out)


def _merged(g: _Group) -> Finding:
    """One finding for a group: the first as it was, or a count with the first occurrence."""
    f = g.first
    if g.count <= 1:
        return f
    if g.plural:
        scope = g.scope or "place"
        where = f" in {g.n_places:,} {scope}{'' if g.n_places == 1 else 's'}" if g.n_places else ""
        first = f", first at {f.where}" if f.where else ""
        message = f"{g.count:,} {g.plural}{where}{first}: {f.message}"
    else:
        message = f"{f.message} ({g.count - 1:,} more like this)"
        if g.n_places > 1:
            names = ", ".join(g.places)
            message += f" in {g.n_places:,} {g.scope or 'place'}s: {names}{' ...' if g.n_places > len(g.places) else ''}"
    return Finding(f.code, f.severity, message, f.remedy, f.where)
