"""No XML body podwarden writes is unparseable, whatever text it is given (issue 17, item 3).

Property-style: strings drawn from every class of code point (XML 1.0's allowed characters, the
C0 controls it forbids, tab / line feed / carriage return, DEL and the C1 controls, markup
characters, surrogates, U+FFFE / U+FFFF, noncharacters it allows, astral characters), plus a
seeded sample of random strings over the whole code space, go through each of podwarden's XML
writers: the shape-driven encoder (element text and attributes), the query / ec2 response and
error documents and S3's error document. botocore's own parsers read each body back; the text
they give is the input with every character XML 1.0 cannot carry replaced by U+FFFD, and every
other character kept exactly (carriage returns included).
"""

from __future__ import annotations

import random
import sys
from typing import Any
from xml.etree import ElementTree as ET

import botocore.awsrequest  # type: ignore[import-untyped]
import pytest
from botocore.parsers import create_parser  # type: ignore[import-untyped]

from podwarden.wire import query_protocol, rest_protocol
from podwarden.wire.errors import WireError
from podwarden.wire.models import service_model
from podwarden.wire.xml_codec import REPLACEMENT, escape_attribute, escape_text

ALLOWED_SINGLES = {0x9, 0xA, 0xD}


def xml_char(code: int) -> bool:
    """XML 1.0's Char production, written out independently of the code under test."""
    return (
        code in ALLOWED_SINGLES
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def expected(text: str) -> str:
    return "".join(c if xml_char(ord(c)) else REPLACEMENT for c in text)


CLASSES: dict[str, list[int]] = {
    "c0-forbidden": [c for c in range(0x20) if c not in ALLOWED_SINGLES],
    "tab-lf-cr": sorted(ALLOWED_SINGLES),
    "markup": [ord(c) for c in "&<>\"']]>"],
    "ascii": list(range(0x20, 0x7F)),
    "del-c1": list(range(0x7F, 0xA0)),
    "bmp": [0xA0, 0xE9, 0x4E2D, 0xD7FF, 0xE000, 0xFDD0, 0xFFFD],
    "surrogates": [0xD800, 0xDBFF, 0xDC00, 0xDFFF],
    "ffff": [0xFFFE, 0xFFFF],
    "astral": [0x10000, 0x1F600, 0xFFFFE, 0x10FFFF],
}


def cases() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, codes in CLASSES.items():
        out.append((f"{name}-all", "".join(chr(c) for c in codes)))
        out.append((f"{name}-embedded", "a" + "b".join(chr(c) for c in codes) + "z"))
    rng = random.Random(17)  # seeded: the same strings every run
    for i in range(200):
        length = rng.randint(1, 12)
        text = "".join(
            chr(rng.choice((rng.randrange(0x20), rng.randrange(sys.maxunicode + 1))))
            for _ in range(length)
        )
        out.append((f"random-{i}", text))
    return out


CASES = cases()
IDS = [name for name, _ in CASES]


def response(body: bytes, status: int = 200) -> dict[str, Any]:
    return {"status_code": status, "headers": botocore.awsrequest.HeadersDict({}), "body": body}


@pytest.mark.parametrize(("name", "text"), CASES, ids=IDS)
def test_element_text_and_attributes_parse_back(name: str, text: str) -> None:
    body = f'<a b="{escape_attribute(text)}">{escape_text(text)}</a>'.encode()
    root = ET.fromstring(body)  # expat: a strict XML 1.0 parser
    assert (root.text or "", root.get("b")) == (expected(text), expected(text))


@pytest.mark.parametrize(("name", "text"), CASES, ids=IDS)
def test_ec2_describe_parses_in_botocore(name: str, text: str) -> None:
    op = service_model("ec2").operation_model("DescribeSecurityGroups")
    group = {"GroupId": "sg-1", "GroupName": text, "Description": text,
             "Tags": [{"Key": text, "Value": text}]}  # fmt: skip
    body = query_protocol.encode_response(op, {"SecurityGroups": [group]}, "r", ec2=True)
    parsed = create_parser("ec2").parse(response(body), op.output_shape)
    (got,) = parsed["SecurityGroups"]
    want = expected(text)
    assert (got["GroupName"], got["Description"]) == (want, want)
    assert got["Tags"] == [{"Key": want, "Value": want}]


@pytest.mark.parametrize(("name", "text"), CASES, ids=IDS)
def test_error_documents_parse_in_botocore(name: str, text: str) -> None:
    want = expected(text)
    for protocol, ec2 in (("ec2", True), ("query", False)):
        op = service_model("ec2" if ec2 else "iam").operation_model(
            "DescribeVpcs" if ec2 else "ListRoles"
        )
        body = query_protocol.encode_error("InvalidParameterValue", text, "r", ec2)
        error = create_parser(protocol).parse(response(body, 400), op.output_shape)["Error"]
        assert (error["Code"], error["Message"]) == ("InvalidParameterValue", want), protocol
    op = service_model("s3").operation_model("ListMultipartUploads")
    reply = rest_protocol.encode_error(
        WireError("InvalidArgument", text, 400, {"ArgumentValue": text}), "r", xml=True
    )
    error = create_parser("rest-xml").parse(
        {"status_code": 400, "headers": botocore.awsrequest.HeadersDict(reply.headers),
         "body": reply.body},
        op.output_shape,
    )["Error"]  # fmt: skip
    assert (error["Message"], error["ArgumentValue"]) == (want, want)


@pytest.mark.parametrize(("name", "text"), CASES, ids=IDS)
def test_s3_listing_without_url_encoding_parses_in_botocore(name: str, text: str) -> None:
    op = service_model("s3").operation_model("ListMultipartUploads")
    output = {"Bucket": "b", "KeyMarker": text, "UploadIdMarker": text,
              "Uploads": [{"Key": text, "UploadId": "u"}]}  # fmt: skip
    reply = rest_protocol.encode_response(op, output, xml=True)
    parsed = create_parser("rest-xml").parse(response(reply.body), op.output_shape)
    want = expected(text)
    assert (parsed["KeyMarker"], parsed["UploadIdMarker"]) == (want, want)
    assert parsed["Uploads"][0]["Key"] == want


def test_every_code_point_is_either_kept_or_replaced() -> None:
    """The whole code space, one code point at a time: never an unparseable document."""
    chunk: list[str] = []
    for code in range(sys.maxunicode + 1):
        chunk.append(chr(code))
        if len(chunk) == 4096 or code == sys.maxunicode:
            text = "".join(chunk)
            root = ET.fromstring(f"<a>{escape_text(text)}</a>".encode())
            assert root.text == expected(text), hex(code)
            chunk.clear()
