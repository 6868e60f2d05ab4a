"""Rules on how the file is served: URL name, ranges, CORS, authentication, offsets.json (from the probe results)."""

from __future__ import annotations

import re

from ometiff_helpers.diagnose.check_input import CheckInput, finding
from ometiff_helpers.findings import Finding, Severity

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741

#: more top-level IFDs than this and the viewer needs an offsets.json to stay fast
OFFSETS_NEEDED_IFDS = 40
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_GENERATE = "generate it with `generate_tiff_offsets --input_file X.ome.tif` (viv's generate-tiff-offsets)"


def avivator_opens_as_ome_tiff(url: str) -> bool:
    """Avivator's test: ``url.includes('ome.tif')`` (case-sensitive, anywhere in the URL) or '.companion.ome'."""
    return "ome.tif" in url or ".companion.ome" in url


def check_url_name(inp: CheckInput) -> list[Finding]:
    """URL_NOT_OME_NAME: Avivator picks the OME-TIFF loader only when the URL text contains 'ome.tif'."""
    name = inp.url_name
    if not name or inp.ome is None:  # not OME at all: NOT_OME says it
        return []
    remote = inp.kind == "http"
    text = inp.display_name if remote else name
    if avivator_opens_as_ome_tiff(text):
        return []
    case = " (the test is case-sensitive)" if avivator_opens_as_ome_tiff(text.lower()) else ""
    return [finding(
        "URL_NOT_OME_NAME", W if remote else I,
        f"the {'URL' if remote else 'file name'} ({name!r}) does not contain 'ome.tif'{case}: Avivator picks its "
        "OME-TIFF loader with `url.includes('ome.tif')` and opens anything else ending in .tif as plain TIFFs, "
        "one channel per IFD, without the OME-XML"
        + ("." if remote else " once it is served.") + " The portal's OME-TIFF route does not depend on the name.",
        "Rename the file (or its URL) to end in .ome.tif (lower case); the query (?token=...) may follow.",
        name)]  # fmt: skip


def check_server_range(inp: CheckInput) -> list[Finding]:
    """SERVER_RANGE: the server must answer ranges with 206 and a Content-Range with the total, also past EOF."""
    out: list[Finding] = []
    if inp.kind == "http" and 200 in inp.statuses:
        out.append(finding(
            "SERVER_RANGE", E,
            "the server answered a range request with the whole file (HTTP 200 instead of 206); geotiff.js stops "
            "with \"Server responded with full file\".",
            "Serve the file from a server or bucket that supports Range requests (nginx, S3, GCS do).", "request 1"))  # fmt: skip
    probe = inp.probes.range_eof if inp.probes is not None else None
    if probe is None or probe.status is None:
        if probe is not None:
            out.append(finding("SERVER_RANGE", W, f"the range probe past the end of the file got {probe.error}.",
                               "Check that the server is reachable and supports Range requests.", "probe"))  # fmt: skip
        return out
    size = inp.probes.file_size if inp.probes is not None else inp.tiff.size
    asked = probe.request_range
    if probe.status == 416:
        out.append(finding(
            "SERVER_RANGE", E,
            f"a range that runs past the end of the file ({asked}, file {size:,} bytes) got HTTP 416; the viewer "
            "reads 64 KiB blocks, so its last block always does this and fails (raw2ometiff puts the IFDs there).",
            "Configure the server to clamp ranges to the file size and answer 206 (RFC 9110 requires it).",
            "probe"))  # fmt: skip
    elif probe.status == 200:
        out.append(finding(
            "SERVER_RANGE", E,
            f"a range that runs past the end of the file ({asked}) got the whole file (HTTP 200); geotiff.js stops "
            "with \"Server responded with full file\".",
            "Configure the server to clamp ranges to the file size and answer 206.", "probe"))  # fmt: skip
    elif probe.status == 206:
        cr = probe.header("content-range") or ""
        m = _CONTENT_RANGE.match(cr)
        if m is None or m.group(3) == "*":
            out.append(finding(
                "SERVER_RANGE", W,
                f"a 206 answer to {asked} carried Content-Range {cr or 'nothing'!r}, without the total size; the "
                "viewer cannot learn the file size and may ask for ranges past its end.",
                "Send `Content-Range: bytes start-end/total` with every 206.", "probe"))  # fmt: skip
        elif int(m.group(2)) != size - 1 or int(m.group(3)) != size:
            out.append(finding(
                "SERVER_RANGE", W,
                f"a 206 answer to {asked} said Content-Range {cr!r}, expected end {size - 1} and total {size}.",
                "Check the server's range handling (a proxy rewriting ranges?).", "probe"))  # fmt: skip
    else:
        out.append(finding(
            "SERVER_RANGE", W,
            f"a range that runs past the end of the file ({asked}) got HTTP {probe.status}, expected 206.",
            "Configure the server to clamp ranges to the file size and answer 206.", "probe"))  # fmt: skip
    return out


def _lists(value: str | None, item: str) -> bool:
    if value is None:
        return False
    items = [v.strip().lower() for v in value.split(",")]
    return "*" in items or item.lower() in items


def check_cors(inp: CheckInput) -> list[Finding]:
    """CORS: the browser must be allowed to send Range and read Content-Range from the viewer's origin."""
    probes = inp.probes
    if probes is None:
        return []
    out = []
    origin = probes.origin
    pre = probes.preflight
    if pre is not None and pre.status is not None:
        problems = []
        if not 200 <= pre.status < 300:
            problems.append(f"it answered HTTP {pre.status}")
        acao = pre.header("access-control-allow-origin")
        if acao not in ("*", origin):
            problems.append(f"Access-Control-Allow-Origin is {acao or 'missing'!r}")
        if not _lists(pre.header("access-control-allow-headers"), "range"):
            allowed = pre.header("access-control-allow-headers")
            problems.append(
                f"Access-Control-Allow-Headers is {allowed!r}, without Range" if allowed
                else "Access-Control-Allow-Headers is missing (it must include Range)"
            )  # fmt: skip
        if problems:
            out.append(finding(
                "CORS", E,
                f"the CORS preflight (OPTIONS from Origin {origin} asking to send Range) fails: {'; '.join(problems)}. "
                "The file opens in Python but not in the browser.",
                "Serve with `Access-Control-Allow-Origin: *` (or the portal's origin) and "
                "`Access-Control-Allow-Headers: Range` on OPTIONS.", "preflight"))  # fmt: skip
    get = probes.range_eof
    if get is not None and get.status in (200, 206):
        acao = get.header("access-control-allow-origin")
        if acao not in ("*", origin):
            out.append(finding(
                "CORS", E,
                f"the ranged GET from Origin {origin} came back without Access-Control-Allow-Origin "
                f"(found {acao or 'nothing'!r}); the browser hides the bytes from the viewer.",
                "Serve GET responses with `Access-Control-Allow-Origin: *` (or the portal's origin).", "GET"))  # fmt: skip
        elif not _lists(get.header("access-control-expose-headers"), "content-range"):
            out.append(finding(
                "CORS", W,
                "the ranged GET does not expose Content-Range to the browser (Access-Control-Expose-Headers is "
                f"{get.header('access-control-expose-headers') or 'missing'!r}); geotiff.js cannot learn the file size.",
                "Serve with `Access-Control-Expose-Headers: Content-Range, Content-Length`.", "GET"))  # fmt: skip
    return out


def check_auth(inp: CheckInput) -> list[Finding]:
    """AUTH: HEAD refused while GET works (signed URLs); the file readable without its token."""
    probes = inp.probes
    if probes is None:
        return []
    out = []
    head = probes.head
    if head is not None and head.status in (401, 403, 405):
        out.append(finding(
            "AUTH", I,
            f"HEAD is refused (HTTP {head.status}) while ranged GET works: typical of signed URLs. The viewer "
            "only sends GET, so it renders; tools that send HEAD first (curl -I, some downloaders) fail.",
            "Nothing to fix for the viewer; use GET with a Range header to test the URL.", "HEAD"))  # fmt: skip
    bare = probes.without_token
    if bare is not None and bare.status in (200, 206):
        out.append(finding(
            "AUTH", I,
            "the file can be read without its token (a GET without it got HTTP "
            f"{bare.status}): the token is not what grants access.",
            "If the data is meant to be protected, check the server's access rules.", "GET without the token"))  # fmt: skip
    return out


def check_offsets(inp: CheckInput) -> list[Finding]:
    """OFFSETS_MISSING / OFFSETS_WRONG: an offsets.json the viewer would use must list the real IFD offsets."""
    n = len(inp.tiff.ifds)
    probes = inp.probes
    if probes is None:
        if n > OFFSETS_NEEDED_IFDS:
            where = "once served, " if inp.kind != "http" else ""
            why = (
                "not checked for a local file"
                if inp.kind != "http"
                else "whether one is served was not probed"
            )
            return [finding(
                "OFFSETS_MISSING", I,
                f"{n} top-level IFDs: {where}the viewer needs an X.offsets.json beside the file to open "
                f"channels quickly ({why}); without it, it walks the IFD chain one request at a time.",
                "Write it with `python -m ometiff_helpers offsets URL -o X.offsets.json` and put it beside the file.",
                f"IFD {n - 1}")]  # fmt: skip
        return []
    out = []
    for o in probes.offsets:
        if o.outcome == "wrong":
            out.append(finding(
                "OFFSETS_WRONG", E,
                f"the offsets.json at the {o.location} location ({o.url}) is wrong: {o.detail}. The viewer uses it "
                "and fails (\"Offsets not found but provided\") or shows garbage.",
                f"Regenerate it for this file: {_GENERATE}.", o.location))  # fmt: skip
    valid = [o for o in probes.offsets if o.outcome == "valid"]
    if not valid and n > OFFSETS_NEEDED_IFDS:
        tried = "; ".join(f"{o.location}: {o.detail}" for o in probes.offsets)
        out.append(finding(
            "OFFSETS_MISSING", W,
            f"{n} top-level IFDs and no usable offsets.json ({tried}): the viewer walks the IFD chain one request "
            "at a time, so the first load and channel switches are slow.",
            f"Put X.offsets.json beside the file (and in output_offsets/ for the portal): {_GENERATE}.",
            f"IFD {n - 1}"))  # fmt: skip
    return out


RULES = (check_url_name, check_server_range, check_cors, check_auth, check_offsets)
