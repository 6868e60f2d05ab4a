"""The expat handlers of the OME-XML parser: elements -> one top-level part at a time -> records -> ``OmeDocument``.

Only one top-level part (an Image, a ROI, one annotation, ...) is held as elements at a time; it is turned into
records (``ome.build``) when it closes and dropped, so 20 000 ROIs cost their records, not a tree. IDs and
references are collected on the way for the document's consistency findings (``ome.consistency``).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING, Protocol
from xml.parsers import expat

from ometiff_helpers.errors import LimitExceeded, NotOmeTiff, OmeXmlError
from ometiff_helpers.findings import Finding, FindingLog, Severity
from ometiff_helpers.ome.build import Converter
from ometiff_helpers.ome.consistency import (
    CHECKED_REFS,
    check_duplicate_ids,
    check_references,
    check_tiffdata,
)
from ometiff_helpers.ome.description import NOT_OME_HINT, preview
from ometiff_helpers.ome.model import Annotation, Image, OmeDocument, Roi
from ometiff_helpers.ome.xmlnode import Node, split_name

if TYPE_CHECKING:  # built (and their module imported) only when the document has them
    from ometiff_helpers.ome.model_containers import BinaryOnly, Plate

#: every OME schema release; the namespace is ``http://www.openmicroscopy.org/Schemas/OME/<version>``
KNOWN_VERSIONS = (
    "2003-FC",
    "2007-06",
    "2008-02",
    "2008-09",
    "2009-09",
    "2010-04",
    "2010-06",
    "2011-06",
    "2012-06",
    "2013-06",
    "2015-01",
    "2016-06",
)
_NS_VERSION = re.compile(r"^https?://www\.openmicroscopy\.org/Schemas/OME/(\d{4}-\d{2}|\d{4}-FC)/?$")
_NS_2003FC = "http://www.openmicroscopy.org/XMLschemas/OME/FC/ome.xsd"

_ROLE_ROOT, _ROLE_CONTAINER, _ROLE_SKIP, _ROLE_RAW = 1, 2, 3, 4
_CONTAINERS = frozenset({"StructuredAnnotations"})
#: top-level parts that follow the Images in schema order: when one starts, the document's head is complete
_AFTER_IMAGES = frozenset({"StructuredAnnotations", "ROI"})
_REF_LIKE = frozenset({"Leader", "Contact", "Pump"})  # elements whose ID attribute refers to another object


class RawText(Protocol):
    """The document's own text between two byte offsets (the byte intake keeps what an open capture needs)."""

    def raw_begin(self, at: int) -> None: ...

    def raw_end(self, at: int) -> str | None: ...


class OmeHandler:
    """Receives expat's element events for one document (``start``, ``end``, ``chars``); ``finish`` builds it.

    An XMLAnnotation's Value is not OME: its elements are neither built nor checked, and its content is taken from
    the document as written (``raw``), not re-serialised.
    """

    def __init__(
        self,
        log: FindingLog,
        parser: expat.XMLParserType,
        raw: RawText,
        *,
        max_elements: int,
        max_depth: int,
    ) -> None:
        self._log = log
        self._parser = parser
        self._raw = raw
        self._conv = Converter(log)
        self.head = b""  # the document's first bytes, for the message of a root that is not <OME>
        self._stack: list[Node] = []
        self._depth = 0
        self._elements = 0
        self.root_seen = False
        self.head_done = (
            False  # the parts before the first ROI / StructuredAnnotations (the Images) are built
        )
        self._max_elements = max_elements
        self._max_depth = max_depth
        self._namespace: str | None = None
        self._version: str | None = None
        self._creator: str | None = None
        self._uuid: str | None = None
        self._images: list[Image] = []
        self._instruments: list = []
        self._experimenters: list = []
        self._groups: list = []
        self._projects: list = []
        self._datasets: list = []
        self._annotations: list[Annotation] = []
        self._rois: list[Roi] = []
        self._plates: list[Plate] = []
        self._binary_only: BinaryOnly | None = None
        self._extra: Counter[str] = Counter()
        self._ids: dict[str, str] = {}
        self._dup_ids: Counter[str] = Counter()
        self._refs: dict[str, list[str]] = {}  # checked reference element -> the IDs it points to
        # annotation ID -> IDs of the objects referring to it; ROI ID -> Image IDs referring to it (see ``_owners``)
        self._annotates: dict[str, tuple[str, ...] | list[str]] = {}
        self._roi_images: dict[str, tuple[str, ...] | list[str]] = {}
        self._single: dict[str, tuple[str]] = {}  # owner ID -> (owner ID,): one tuple shared by every record

    # --- expat handlers -------------------------------------------------------------------------------------------

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self._elements += 1
        self._depth += 1
        if self._elements > self._max_elements or self._depth > self._max_depth:
            self._over_limit()
        ns, local, prefix = split_name(name)
        stack = self._stack
        if not stack:
            self._root(ns, local, prefix, attrs)
            return
        parent = stack[-1]
        prole = parent.role
        if prole == _ROLE_RAW:  # inside an XMLAnnotation's Value: its text is taken as written at its end
            stack.append(parent)
            return
        node = Node(local, ns, prefix, attrs)
        if prole == 0 or prole == _ROLE_SKIP:
            parent.children.append(node)
        elif prole == _ROLE_ROOT:
            if local in _AFTER_IMAGES:
                self.head_done = True
            if local in _CONTAINERS:
                node.role = _ROLE_CONTAINER
        if local == "BinData":
            node.role = _ROLE_SKIP
        elif local == "Value" and parent.local == "XMLAnnotation":
            node.role = _ROLE_RAW  # not OME elements: their IDs are not OME IDs
            self._raw.raw_begin(self._parser.CurrentByteIndex)
        stack.append(node)
        ident = attrs.get("ID")
        if ident is None:
            return
        if local in _REF_LIKE or local.endswith(("Ref", "Settings")):
            if local in CHECKED_REFS:
                targets = self._refs.get(local)
                if targets is None:
                    self._refs[local] = [ident]
                else:
                    targets.append(ident)
            if local == "AnnotationRef":
                self._add_owner(self._annotates, ident, parent.attrs.get("ID", parent.local))
            elif local == "ROIRef":
                self._add_owner(self._roi_images, ident, parent.attrs.get("ID", parent.local))
        elif ident in self._ids:
            self._dup_ids[ident] += 1
        else:
            self._ids[ident] = local

    def _add_owner(self, owners: dict[str, tuple[str, ...] | list[str]], ident: str, owner: str) -> None:
        """Note that ``owner`` refers to ``ident``: a shared 1-tuple for the first (most IDs have one), then a list."""
        got = owners.get(ident)
        if got is None:
            one = self._single.get(owner)
            if one is None:
                one = self._single[owner] = (owner,)
            owners[ident] = one
        elif isinstance(got, tuple):
            owners[ident] = [*got, owner]
        else:
            got.append(owner)

    def _over_limit(self) -> None:
        if self._elements > self._max_elements:
            raise LimitExceeded(
                f"the OME-XML has more than {self._max_elements:,} elements; parsing stopped.",
                name="max_elements",
                value=self._elements,
                limit=self._max_elements,
                hint="Raise OmeXmlOptions.max_elements if you trust this file.",
            )
        raise OmeXmlError(
            f"the OME-XML is nested more than {self._max_depth} levels deep "
            f"(line {self._parser.CurrentLineNumber}); OME-XML needs fewer than 15. Parsing stopped.",
            line=self._parser.CurrentLineNumber,
            column=self._parser.CurrentColumnNumber + 1,
            hint="The file is damaged or hostile.",
        )

    def _root(self, ns: str, local: str, prefix: str, attrs: dict[str, str]) -> None:
        self.root_seen = True
        if local != "OME":
            raise NotOmeTiff(
                f"IFD 0's ImageDescription is XML whose root element is <{local}>, not <OME>: "
                f"{preview(self.head)!r}.",
                kind=f"xml:{local}",
                hint=NOT_OME_HINT,
            )
        self._namespace = ns or None
        m = _NS_VERSION.match(ns)
        if ns == _NS_2003FC:
            self._version = "2003-FC"
        elif m:
            self._version = m.group(1)
            if self._version not in KNOWN_VERSIONS:
                self._log.add(
                    "OME_SCHEMA_UNKNOWN",
                    Severity.WARNING,
                    f"OME schema version {self._version} is not one this tool knows (newest known: "
                    f"{KNOWN_VERSIONS[-1]}); it was read best-effort by element names.",
                    remedy="Check the values shown against the file's documentation.",
                )
        else:
            self._log.add(
                "OME_NAMESPACE_UNKNOWN",
                Severity.WARNING,
                f"The <OME> root is in namespace {ns!r}, not an OME schema namespace "
                "(http://www.openmicroscopy.org/Schemas/OME/<version>); it was read best-effort by element names.",
                remedy="Viewers that check the namespace (Viv) may refuse it: write the OME namespace.",
            )
        self._creator = attrs.get("Creator")
        self._uuid = attrs.get("UUID")
        self._stack.append(Node(local, ns, prefix, {}, role=_ROLE_ROOT))

    def end(self, _name: str) -> None:
        self._depth -= 1
        stack = self._stack
        node = stack.pop()
        if node.role == _ROLE_RAW:
            if stack[-1] is not node:  # the Value itself ends: its content as written
                node.text = self._raw.raw_end(self._parser.CurrentByteIndex) or ""
            return
        if not stack or node.role == _ROLE_CONTAINER:
            return
        prole = stack[-1].role
        if prole in (_ROLE_ROOT, _ROLE_CONTAINER):
            self._part(node, in_container=prole == _ROLE_CONTAINER)

    def chars(self, data: str) -> None:
        node = self._stack[-1] if self._stack else None
        if node is None or node.role:
            return
        if node.children:
            node.children[-1].tail += data
        else:
            node.text += data

    # --- parts ------------------------------------------------------------------------------------------------------

    def _part(self, n: Node, in_container: bool) -> None:
        local, conv = n.local, self._conv
        if in_container:
            if local.endswith("Annotation"):
                annotates = _as_tuple(self._annotates.get(n.get("ID") or ""))
                self._annotations.append(conv.annotation(n, annotates=annotates))
            else:
                self._extra[local] += 1
        elif local == "Image":
            self._images.append(conv.image(n, len(self._images), self._rois))
        elif local == "ROI":
            self._rois.append(conv.roi(n, image_refs=_as_tuple(self._roi_images.get(n.get("ID") or ""))))
        elif local == "Instrument":
            self._instruments.append(conv.instrument(n))
        elif local == "Experimenter":
            self._experimenters.append(conv.experimenter(n))
        elif local in ("ExperimenterGroup", "Group"):
            self._groups.append(conv.group(n))
        elif local == "Project":
            self._projects.append(conv.project(n))
        elif local == "Dataset":
            self._datasets.append(conv.dataset(n))
        elif local == "Plate":
            self._plates.append(conv.plate(n))
        elif local == "BinaryOnly":
            self._binary_only = conv.binary_only(n)
        elif local.endswith("Annotation"):
            self._annotations.append(conv.annotation(n))
        else:
            self._extra[local] += 1  # Screen, Folder, Rights, CustomAttributes, ...

    # --- the document ---------------------------------------------------------------------------------------------

    def finish(self, *, trailing_data: bool, xml_bytes: int, sha256: str, encoding: str) -> OmeDocument:
        """The document of everything parsed (``trailing_data`` etc.: what the byte intake learnt)."""
        log = self._log
        if trailing_data:
            log.add(
                "OME_TRAILING_DATA",
                Severity.INFO,
                "The ImageDescription holds more text after a NUL byte; only the first string was read.",
            )
        check_references(self._refs, self._ids, log)
        check_duplicate_ids(self._dup_ids, log)
        for image in self._images:
            check_tiffdata(image, log)
        _late_refs(self._annotations, self._annotates, "annotates")  # references after the annotation / ROI
        _late_refs(self._rois, self._roi_images, "image_refs")
        if self._binary_only is not None:
            log.add(
                "OME_BINARY_ONLY",
                Severity.WARNING,
                "The OME-XML is a BinaryOnly stub: the metadata lives in "
                f"{self._binary_only.metadata_file or '(no MetadataFile given)'}, not in this file.",
                remedy="Open the companion file named by MetadataFile (multi-file OME-TIFF); the portal's "
                "viewer cannot follow it.",
            )
        return self._document(
            annotations=tuple(self._annotations),
            rois=tuple(self._rois),
            findings=log.findings(),
            xml_bytes=xml_bytes,
            sha256=sha256,
            encoding=encoding,
        )

    def snapshot(self, *, xml_bytes: int, encoding: str) -> OmeDocument:
        """The document as parsed so far, for an answer before the end: the parts before the first ROI or
        StructuredAnnotations (``head_done``: the Images) with the findings so far; no ROI, no annotation (their
        references may still come), none of ``finish``'s whole-document checks, no sha256."""
        return self._document(
            annotations=(),
            rois=(),
            findings=self._log.findings(),
            xml_bytes=xml_bytes,
            sha256="",
            encoding=encoding,
        )

    def _document(
        self,
        *,
        annotations: tuple[Annotation, ...],
        rois: tuple[Roi, ...],
        findings: tuple[Finding, ...],
        xml_bytes: int,
        sha256: str,
        encoding: str,
    ) -> OmeDocument:
        return OmeDocument(
            namespace=self._namespace,
            schema_version=self._version,
            creator=self._creator,
            uuid=self._uuid,
            images=tuple(self._images),
            instruments=tuple(self._instruments),
            experimenters=tuple(self._experimenters),
            groups=tuple(self._groups),
            projects=tuple(self._projects),
            datasets=tuple(self._datasets),
            annotations=annotations,
            rois=rois,
            plates=tuple(self._plates),
            binary_only=self._binary_only,
            findings=findings,
            xml_bytes=xml_bytes,
            sha256=sha256,
            element_count=self._elements,
            encoding=encoding,
            extra=dict(self._extra),
        )


def _as_tuple(owners: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """The owner IDs as a tuple (the shared one when there is one owner)."""
    if owners is None:
        return ()
    return owners if isinstance(owners, tuple) else tuple(owners)


def _late_refs(records: list, refs: dict[str, tuple[str, ...] | list[str]], name: str) -> None:
    """Give each record the IDs of the objects referring to it that were read after it (``refs``: ID -> IDs).

    The records are the handler's own and not yet published (``finish`` hands them out), so the field is set in
    place: a copy per annotation or ROI (``dataclasses.replace``) cost more than the rest of building it.
    """
    for record in records:
        ids = refs.get(record.id) if record.id is not None else None
        if ids is not None and len(ids) != len(getattr(record, name)):
            object.__setattr__(record, name, _as_tuple(ids))
