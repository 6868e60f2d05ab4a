"""One rule for every XML parser in this package: a DOCTYPE or entity declaration stops the parse.

OME-XML never needs a DTD; refusing it before anything is expanded rules out entity expansion (billion laughs,
quadratic blow-up) and external entities or DTDs (no file or network access).
"""

from __future__ import annotations

from xml.parsers import expat

from ometiff_helpers.errors import OmeXmlError

DTD_MESSAGE = (
    "the OME-XML contains a DOCTYPE or ENTITY declaration, which is not allowed (entity expansion and "
    "external entities are refused for safety); nothing was expanded or fetched."
)
DTD_HINT = "OME-XML never needs a DTD: remove the <!DOCTYPE ...> block."


class DtdRefused(Exception):
    """Raised inside an expat handler at a DOCTYPE / ENTITY declaration; turn it into ``dtd_error(parser)``."""


def _refuse(*_args: object) -> int:
    raise DtdRefused


def safe_expat_parser(namespace_separator: str | None = None) -> expat.XMLParserType:
    """A new expat parser that refuses DTDs and entities, buffers text, and takes large chunks (1 MiB)."""
    parser = expat.ParserCreate(namespace_separator=namespace_separator)
    parser.buffer_text = True
    parser.buffer_size = 1 << 20
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.NotationDeclHandler = _refuse
    return parser


def dtd_error(parser: expat.XMLParserType) -> OmeXmlError:
    """The error to raise (``from None``) when ``DtdRefused`` stopped ``parser``: where, and what to do."""
    return OmeXmlError(
        DTD_MESSAGE, line=parser.CurrentLineNumber, column=parser.CurrentColumnNumber + 1, hint=DTD_HINT
    )
