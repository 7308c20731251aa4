"""XML bodies of the query, ec2 and rest-xml protocols, from botocore shapes.

Encoding mirrors what botocore's XML parsers read (``botocore.parsers.BaseXMLResponseParser``):
a member's element is its ``locationName`` or its member name; a list is a wrapper element with
one child per item (named by the list member's ``locationName``, default ``member``; EC2's models
name them ``item``), or, when ``flattened``, the items repeated in place under the item's name;
a map is ``<entry><key/><value/></entry>`` children (flattened: repeated ``<Name><key/><value/>``).
Members bound to HTTP headers, the status code or the URI are left to the protocol. Values of
``None`` are omitted. Decoding (rest-xml request bodies: S3's ``CreateBucketConfiguration``,
``Delete``) is the inverse, namespaces ignored, with ``Malformed`` for text that is not the
shape's type.

Text is written with ``escape_text`` / ``escape_attribute``, which every XML body podwarden
sends goes through (the protocols' error documents too), so that no response is unparseable:

- ``&``, ``<``, ``>`` (and ``"`` in attributes) become entity references; a carriage return
  becomes ``&#13;`` (and tab and line feed in attributes ``&#9;`` / ``&#10;``), so that the
  parser's end-of-line and attribute normalization give back the very string that was sent.
- A code point XML 1.0 cannot carry at all (its ``Char`` production: C0 controls other than
  tab, line feed and carriage return, the surrogates U+D800-U+DFFF — a lone one reaches a
  ``str`` through ``surrogateescape`` decoding — and U+FFFE, U+FFFF) is written as U+FFFD
  REPLACEMENT CHARACTER: not even as a character reference, which XML 1.0 forbids for these
  too. AWS itself writes S3 keys holding such characters as ``&#x1;`` references, and clients'
  parsers then fail (aws/aws-sdk-go#1914, boto/boto3#2347); S3's documented remedy is
  ``EncodingType=url``, which podwarden's S3 listings honour (they percent-encode the keys, so
  nothing is replaced). Elsewhere the characters only reach a response when an error echoes a
  bad input (``Value '\x00' at 'pathPrefix'...``): the echo shows U+FFFD where the bad
  character was. Stored strings are refused before they are stored where AWS refuses them
  (the models' patterns, checked by ``wire.validate``, and the services' own character rules).
"""

from __future__ import annotations

import re
from typing import Any, Final
from xml.etree import ElementTree as ET

from podwarden.wire.models import Shape
from podwarden.wire.text_scalars import Malformed, parse, render

_HTTP_LOCATIONS: Final = frozenset({"header", "headers", "statusCode", "uri", "querystring"})

REPLACEMENT: Final = "\ufffd"
# Code points outside XML 1.0's Char production (section 2.2 of the XML 1.0 recommendation).
NOT_XML_CHAR: Final = "\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff"
_TEXT: Final = re.compile(f"[&<>\r{NOT_XML_CHAR}]")
_ATTRIBUTE: Final = re.compile(f'[&<>"\t\n\r{NOT_XML_CHAR}]')
_REFERENCES: Final = {
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\t": "&#9;", "\n": "&#10;",
    "\r": "&#13;",
}  # fmt: skip


def _reference(match: re.Match[str]) -> str:
    return _REFERENCES.get(match.group(), REPLACEMENT)


def escape_text(text: str) -> str:
    """``text`` as element content that parses back to itself (see the module docstring)."""
    return text if _TEXT.search(text) is None else _TEXT.sub(_reference, text)


def escape_attribute(text: str) -> str:
    """``text`` as a double-quoted attribute value that parses back to itself."""
    return text if _ATTRIBUTE.search(text) is None else _ATTRIBUTE.sub(_reference, text)


def member_name(shape: Shape, name: str) -> str:
    """The element name of a structure member (botocore's ``_member_key_name``)."""
    if shape.type_name == "list" and shape.serialization.get("flattened"):
        item_name = shape.member.serialization.get("name")
        if item_name is not None:
            return str(item_name)
    return str(shape.serialization.get("name", name))


def encode_members(shape: Shape, value: dict[str, Any], out: list[str]) -> None:
    """The children of a structure element (body members only; attributes go on the tag)."""
    for name, member in shape.members.items():
        item = value.get(name)
        if item is None or member.serialization.get("location") in _HTTP_LOCATIONS:
            continue
        if member.serialization.get("xmlAttribute"):
            continue
        encode(member, item, member_name(member, name), out)


def _start_tag(shape: Shape, value: dict[str, Any], tag: str) -> str:
    """``<tag>`` with namespace declarations and ``xmlAttribute`` members (S3's
    ``<Grantee xmlns:xsi="..." xsi:type="CanonicalUser">``)."""
    attrs = []
    ns = shape.serialization.get("xmlNamespace")
    if isinstance(ns, dict) and ns.get("uri"):
        prefix = f":{ns['prefix']}" if ns.get("prefix") else ""
        attrs.append(f'xmlns{prefix}="{escape_attribute(ns["uri"])}"')
    for name, member in shape.members.items():
        item = value.get(name)
        if item is not None and member.serialization.get("xmlAttribute"):
            text = escape_attribute(render(member, item))
            attrs.append(f'{member.serialization.get("name", name)}="{text}"')
    return f"<{tag}{''.join(' ' + a for a in attrs)}>"


def encode(shape: Shape, value: Any, tag: str, out: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        out.append(_start_tag(shape, value, tag))
        encode_members(shape, value, out)
        out.append(f"</{tag}>")
    elif kind == "list":
        item_shape = shape.member
        if shape.serialization.get("flattened"):
            for item in value:
                encode(item_shape, item, tag, out)
            return
        item_tag = item_shape.serialization.get("name", "member")
        out.append(f"<{tag}>")
        for item in value:
            encode(item_shape, item, item_tag, out)
        out.append(f"</{tag}>")
    elif kind == "map":
        key_tag = shape.key.serialization.get("name") or "key"
        value_tag = shape.value.serialization.get("name") or "value"
        flat = bool(shape.serialization.get("flattened"))
        if not flat:
            out.append(f"<{tag}>")
        for k, v in value.items():
            out.append(f"<{tag}>" if flat else "<entry>")
            encode(shape.key, k, key_tag, out)
            encode(shape.value, v, value_tag, out)
            out.append(f"</{tag}>" if flat else "</entry>")
        if not flat:
            out.append(f"</{tag}>")
    else:
        out.append(f"<{tag}>{escape_text(render(shape, value))}</{tag}>")


# ---- decoding -------------------------------------------------------------------------------


def parse_document(body: bytes) -> ET.Element:
    """Parse a request body. DTDs and entity declarations are refused (no entity expansion)."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise Malformed("The XML you provided was not well-formed or did not validate")
    try:
        return ET.fromstring(body)  # noqa: S314 - no DTD/entities reach the parser (above)
    except (ET.ParseError, LookupError, ValueError):  # LookupError: an unknown encoding="…"
        raise Malformed(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        ) from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def decode(shape: Shape, node: ET.Element | list[ET.Element]) -> Any:
    kind = shape.type_name
    if kind == "structure":
        element = node[0] if isinstance(node, list) else node
        return decode_members(shape, element)
    if kind == "list":
        if shape.serialization.get("flattened"):
            items = node if isinstance(node, list) else [node]
        else:
            element = node[0] if isinstance(node, list) else node
            items = list(element)
        return [decode(shape.member, i) for i in items]
    if kind == "map":
        entries = node if isinstance(node, list) else list(node)
        key_tag = shape.key.serialization.get("name") or "key"
        value_tag = shape.value.serialization.get("name") or "value"
        out: dict[Any, Any] = {}
        for entry in entries:
            parts = {_local(c.tag): c for c in entry}
            if key_tag in parts and value_tag in parts:
                out[decode(shape.key, parts[key_tag])] = decode(shape.value, parts[value_tag])
        return out
    element = node[0] if isinstance(node, list) else node
    return parse(shape, element.text or "")


def decode_members(shape: Shape, element: ET.Element) -> dict[str, Any]:
    children: dict[str, list[ET.Element]] = {}
    for child in element:
        children.setdefault(_local(child.tag), []).append(child)
    out: dict[str, Any] = {}
    attributes = {_local(k): v for k, v in element.attrib.items()}
    for name, member in shape.members.items():
        if member.serialization.get("location") in _HTTP_LOCATIONS:
            continue
        if member.serialization.get("xmlAttribute"):
            attr = str(member.serialization.get("name", name)).rsplit(":", 1)[-1]
            if attr in attributes:
                out[name] = parse(member, attributes[attr])
            continue
        found = children.get(member_name(member, name))
        if found:
            flat_list = member.type_name == "list" and member.serialization.get("flattened")
            out[name] = decode(member, found if flat_list else found[0])
    return out
