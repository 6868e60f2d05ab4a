"""IFD 0's ImageDescription as it downloads: kept once, its head parsed at once, the rest parsed when asked.

``XmlIntake`` is the consumer the TIFF reader streams the description to (from its reading threads). It keeps the
bytes in one growing buffer (``io.BytesIO``: ``payload()`` hands out that buffer itself, no copy) and, in a thread
of its own (the download does not wait for it), feeds the OME-XML parser only until the parts before the first ROI
or StructuredAnnotations (the Images: what a summary needs) are built; the rest is parsed by ``finish()`` after the
reading, so a 23 MB XML of ROIs does not hold up the TIFF reads of the next rounds, and the first answer does not
wait for the ROIs.

A description that is not OME-XML (ImageJ, plain text) must not abort the TIFF walk running beside it, so parser
errors are kept (``error``) and reported after the reading.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from dataclasses import replace

from ometiff_helpers.errors import OmeTiffError
from ometiff_helpers.ome.description import is_utf16
from ometiff_helpers.ome.model import OmeDocument
from ometiff_helpers.ome.parser import OmeXmlOptions, OmeXmlParser
from ometiff_helpers.progress import Progress, ProgressCallback

_SLICE = 256 * 1024  # bytes handed to the parser at a time after the head (copied one slice at a time)
_HEAD_SLICE = 64 * 1024  # ... before it: parsing stops soon after the head is complete
_HEAD_WINDOW = 4 * 1024 * 1024  # small slices only this far (expat < 2.6 re-scans a token cut in many pieces)


class XmlIntake:
    """Receives IFD 0's description (``__call__``, from any thread), then ``payload()``, ``head()``, ``finish()``."""

    def __init__(self, on_progress: ProgressCallback | None, options: OmeXmlOptions) -> None:
        self._on_progress = on_progress
        self._options = replace(options, min_feed=min(options.min_feed, _HEAD_SLICE))
        self._buf = io.BytesIO()
        self._lock = threading.Lock()
        self._parser: OmeXmlParser | None = None
        self._data: bytes | None = None
        self._doc: OmeDocument | None = None
        self.error: OmeTiffError | None = None
        self.received = 0
        self.total: int | None = None  # the description's bytes, once the TIFF reader has found it
        # the head is parsed by a thread of its own, from the chunks queued for it (at most _HEAD_WINDOW bytes), so
        # that the download and the reads of the next rounds do not wait for it
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._arrived = threading.Condition(self._lock)
        self._ended = False  # no more chunks will be queued
        self._feeding = False  # the head thread is parsing a chunk
        self._worker: threading.Thread | None = None
        self._crash: BaseException | None = None

    # --- while reading (the TIFF reader's threads) -----------------------------------------------------------------

    def __call__(self, chunk: bytes) -> None:
        """Keep ``chunk``; parse it too while the head (the Images) is not complete."""
        with self._lock:
            if self._data is not None:
                raise RuntimeError("XmlIntake: bytes after payload() was taken")
            self._buf.write(chunk)
            self.received += len(chunk)
            if self._queued < _HEAD_WINDOW and not self._ended and not self._head_complete():
                self._queue.append(chunk)
                self._queued += len(chunk)
                self._arrived.notify_all()
                if self._worker is None:
                    self._worker = threading.Thread(target=self._parse_head, name="ome-xml-head", daemon=True)
                    self._worker.start()
            else:
                self._ended = True  # the rest of the head, if any, is parsed from the payload
            if self.total is not None and self.received >= self.total:
                self._arrived.notify_all()  # every byte is here (``wait_head``)
            if self._on_progress is not None:
                self._on_progress(Progress("xml", self.received, self.total))

    def abort(self) -> None:
        """The download failed (the reader's stream ends): no more bytes come; ``wait_head`` stops waiting."""
        with self._lock:
            self._ended = True
            self._queue.clear()
            self._arrived.notify_all()

    def relay(self, event: Progress) -> None:
        """The TIFF reader's progress, passed on; its "description" event (the description's size) becomes the
        total of the "xml" events instead."""
        if event.stage == "description":
            self.total = event.total
            return
        if self._on_progress is not None:
            self._on_progress(event)

    def _parse_head(self) -> None:
        """The head thread: parse the queued chunks until the head is complete or no more will come."""
        try:
            while True:
                with self._lock:
                    while not self._queue and not self._ended:
                        self._arrived.wait()
                    if not self._queue:
                        return
                    chunk = self._queue.popleft()
                    self._feeding = True
                try:
                    self._feed_head(chunk)
                finally:
                    with self._lock:
                        self._feeding = False
                        self._arrived.notify_all()
                if self._head_complete():
                    return
        except BaseException as exc:  # a bug: raised again in the caller's thread by ``payload``
            with self._lock:
                self._crash = exc
                self._ended = True
                self._arrived.notify_all()

    def close_input(self, *, abort: bool = False) -> None:
        """No more bytes will come (call it however the reading ended): the head thread parses what is queued for
        it (nothing more with ``abort``: the reading failed) and stops; this waits for it."""
        with self._lock:
            self._ended = True
            if abort:
                self._queue.clear()
            self._arrived.notify_all()
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        self._queue.clear()
        if self._crash is not None:
            crash, self._crash = self._crash, None
            raise crash

    def _head_complete(self) -> bool:
        """True when the head needs no more bytes: it is built, or the description is not (valid) OME-XML."""
        return self.error is not None or (self._parser is not None and self._parser.head_done)

    def _feed_head(self, data: bytes | memoryview) -> None:
        """Parse ``data`` in small slices until the head is complete (the rest waits for ``finish``)."""
        step = _HEAD_SLICE if self.parsed < _HEAD_WINDOW else max(1, len(data))
        with memoryview(data) as view:
            for i in range(0, max(1, len(view)), step):
                self._feed(view[i : i + step])
                if self._head_complete():
                    return

    def _feed(self, chunk: bytes | memoryview) -> None:
        try:
            if self._parser is None:
                self._parser = OmeXmlParser(options=self._options)
            self._parser.feed(chunk)
        except OmeTiffError as exc:
            self.error = exc

    def wait_head(self) -> OmeDocument | None:
        """While the description still downloads: wait until the head thread has built the document up to its
        Images and return that (its ``xml_bytes``: the description's size as stored), or None as soon as it is
        clear the head will not come that way (not OME-XML, the download ended or failed first, the head lies past
        the first MBs): ``head()`` after the reading says more."""
        with self._lock:
            while True:
                if not self._feeding:  # the head thread is between two chunks, or done
                    if self._head_complete():
                        break
                    if self._ended:
                        return None
                    if not self._queue and self.total is not None and self.received >= self.total:
                        return None  # every byte parsed by the head thread, and no head: ``head()`` finishes
                self._arrived.wait()
        if self.error is not None or self._parser is None:
            return None
        return replace(self._parser.snapshot(), xml_bytes=self.total or self.received)

    # --- after reading (the caller's thread) ---------------------------------------------------------------------

    def payload(self) -> bytes | None:
        """The description as stored, terminating NULs removed (``description.xml_payload``); None if none came.

        The one copy of the XML: the buffer's own bytes, cut in place. No byte may arrive after this call.
        """
        self.close_input()
        with self._lock:
            if self._data is None:
                if not self.received:
                    return None
                self._buf.truncate(_payload_end(self._buf))
                self._data = self._buf.getvalue()  # the buffer itself when it is exactly this size: no copy
                self._buf = io.BytesIO()
            return self._data

    @property
    def complete(self) -> bool:
        """True once the whole document is parsed (``finish``, or ``head`` of an XML that ends with its Images)."""
        return self._doc is not None

    @property
    def parsed(self) -> int:
        """Description bytes given to the parser so far (terminating NULs not counted once the payload is known)."""
        fed = self._parser.fed if self._parser is not None else 0
        return fed if self._data is None else min(fed, len(self._data))

    def head(self) -> OmeDocument | None:
        """The document up to its Images (``OmeXmlParser.snapshot``; the whole one when the XML ends there), or None
        when the description is not (valid) OME-XML so far (``error`` says why)."""
        data = self.payload()
        if data is None:
            return None
        while not self._head_complete():
            start = self.parsed
            if start >= len(data) and self._parser is not None:
                return self.finish()  # the XML ends with its head
            with memoryview(data) as view:
                self._feed_head(view[start : start + _SLICE])
        if self.error is not None or self._parser is None:
            return None
        return replace(self._parser.snapshot(), xml_bytes=len(data))

    def finish(self) -> OmeDocument | None:
        """The whole document (parsing what is left), or None when the description is not (valid) OME-XML."""
        data = self.payload()
        if data is None or self.error is not None:
            return None
        if self._doc is not None:
            return self._doc
        while self._feed_next(data):
            if self.error is not None:
                return None
        assert self._parser is not None
        try:
            self._doc = self._parser.close()
        except OmeTiffError as exc:
            self.error = exc
            return None
        return self._doc

    def _feed_next(self, data: bytes) -> bool:
        """Give the parser the next slice of ``data`` after what it has; False when it has everything."""
        start = self.parsed
        if start >= len(data) and self._parser is not None:
            return False
        with memoryview(data) as view:
            self._feed(view[start : start + _SLICE])
        return True


def _payload_end(buf: io.BytesIO) -> int:
    """The length of ``buf`` without its terminating NULs (whole NUL characters in UTF-16), as ``xml_payload``."""
    with buf.getbuffer() as view:
        end = len(view)
        utf16 = is_utf16(bytes(view[:4]))
        if utf16:
            end -= end % 2
        while end > 0:
            window = bytes(view[max(0, end - 65536) : end])
            body = len(window.rstrip(b"\x00"))
            if body:
                end -= len(window) - body
                break
            end -= len(window)
        if utf16 and end % 2:
            end += 1  # a NUL byte completing the last UTF-16 character is part of it
    return end
