"""What a hostile client does to a well-formed request, as a table: each mutation names the
protocols it applies to, whether it runs before signing (the request still authenticates and
reaches the codecs) or after (it tampers with a signed request), and returns a short description
of what it did, which the failure report prints."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from tests.fuzz.draft import Draft

Mutate = Callable[[random.Random, Draft], str]
ALL = ("json", "rest-json", "rest-xml", "query", "ec2", "smithy-rpc-v2-cbor")
REST = ("rest-json", "rest-xml")
# A form key of N ".member.1" parts once cost the query decoder O(N²) time and memory (100,000
# parts exhausted 16 GiB); the decoder now indexes only prefixes a shape path can reach
QUERY_NESTING = 100_000
MAX_URL = 16 * 1024  # past ~64 KiB uvicorn answers a plain-text 400 itself (see shapes.MAX_LOCATED)


@dataclass(frozen=True)
class Mutation:
    name: str
    weight: int
    protocols: tuple[str, ...]
    mutate: Mutate
    after_signing: bool = False


def _truncate(rng: random.Random, draft: Draft) -> str:
    cut = rng.randrange(len(draft.body)) if draft.body else 0
    draft.body = draft.body[:cut]
    return f"body cut at byte {cut}"


def _garbage(rng: random.Random, draft: Draft) -> str:
    draft.body = rng.randbytes(rng.choice((1, 7, 64, 4096)))
    return f"{len(draft.body)} random bytes"


def _invalid_utf8(rng: random.Random, draft: Draft) -> str:
    at = rng.randrange(len(draft.body) + 1)
    bad = rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x00"))
    draft.body = draft.body[:at] + bad + draft.body[at:]
    return f"{bad!r} inserted at byte {at}"


def _nesting(rng: random.Random, draft: Draft) -> str:
    depth = rng.choice((1_000, 100_000))
    content_type = draft.header("Content-Type") or ""
    if "json" in content_type or draft.body.startswith(b"{"):
        draft.body = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
    elif draft.body.startswith(b"<") or draft.s3_signer:
        draft.body = b"<a>" * depth + b"</a>" * depth
    else:  # a form key nested QUERY_NESTING deep (900 KB)
        depth = QUERY_NESTING
        draft.body += b"&" + b".member.1" * depth + b"=x"
    return f"nesting depth {depth}"


def _json_variant(rng: random.Random, draft: Draft) -> str:
    variants = (b"[]", b'"s"', b"null", b"1", b"NaN", b'{"a":1,"a":2}', b"{}{}", b"\xef\xbb\xbf{}")
    draft.body = rng.choice(variants)
    return f"body {draft.body!r}"


def _json_wrong_type(rng: random.Random, draft: Draft) -> str:
    try:
        doc = json.loads(draft.body or b"{}")
    except ValueError:
        return "not JSON: unchanged"
    if not isinstance(doc, dict) or not doc:
        doc = {"Name": "x"}
    key = rng.choice(sorted(doc))
    odd = rng.choice(([1], {"x": 1}, 1.5, True, None, "x", -(2**70)))
    doc[key] = odd
    draft.body = json.dumps(doc).encode()
    return f"member {key!r} = {odd!r}"


def _xml_attack(rng: random.Random, draft: Draft) -> str:
    draft.body = rng.choice(
        (
            b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>',
            b'<!DOCTYPE a [<!ENTITY x "xxxxxxxxxx"><!ENTITY y "&x;&x;&x;&x;&x;&x;&x;&x;">'
            b'<!ENTITY z "&y;&y;&y;&y;&y;&y;&y;&y;&y;">]><Delete><Object><Key>&z;</Key>'
            b"</Object></Delete>",
            b"<a>\x01</a>",
            b'<?xml version="1.0" encoding="klingon"?><a/>',
            b"<a><b></a>",
        )
    )
    return f"body {draft.body[:60]!r}"


def _large(rng: random.Random, draft: Draft) -> str:
    size = rng.choice((1 << 20, 3 << 20))
    filler = b"x" * size
    draft.body = b'{"a":"' + filler + b'"}' if draft.body.startswith(b"{") else filler
    return f"{size} byte body"


def _target(rng: random.Random, draft: Draft) -> str:
    value = rng.choice(
        ("SageMaker.", "SageMaker", ".ListClusters", "Foo.Bar", "SageMaker.ListClusters.x",
         "sagemaker.ListClusters", "SageMaker.listclusters", "SageMaker.\u00e9", "")
    )  # fmt: skip
    draft.set_header("X-Amz-Target", value)
    return f"X-Amz-Target: {value!r}"


def _foreign_target(rng: random.Random, draft: Draft) -> str:
    value = rng.choice(("SageMaker.ListClusters", "SageMaker.DescribeCluster"))
    draft.set_header("X-Amz-Target", value)
    return f"X-Amz-Target: {value!r} on a {draft.signing_name} request"


def _duplicate_header(rng: random.Random, draft: Draft) -> str:
    names = [k for k, _ in draft.headers] or ["Content-Type"]
    name = rng.choice(names)
    extra = rng.choice(("x", "", "SageMaker.DeleteCluster", "application/json"))
    draft.headers.append((name, extra))
    return f"second {name}: {extra!r}"


def _content_type(rng: random.Random, draft: Draft) -> str:
    value = rng.choice(
        (None, "text/plain", "application/json", "application/x-amz-json-1.0",
         "multipart/form-data; boundary=x", "application/x-www-form-urlencoded; charset=latin-1",
         "application/xml", "\u00e9/\u00e9")
    )  # fmt: skip
    draft.set_header("Content-Type", value)
    return f"Content-Type: {value!r}"


def _bad_query(rng: random.Random, draft: Draft) -> str:
    extra = rng.choice(
        ("%zz", "a=%ff%fe", "a=%00", "&&&", "=x", "Action=ListRoles&Action=GetRole",
         "uploads&upload-id-marker=%01", "x-id=Nope", "max-keys=-1", "max-keys=99999999999999999999",
         "list-type=2&continuation-token=%01", "prefix=%01&delimiter=%02",
         "Version=2010-05-08&Action=%00", "a=" + "b" * 8000)
    )  # fmt: skip
    draft.query = f"{draft.query}&{extra}" if draft.query else extra
    return f"query += {extra[:80]!r}"


def _query_as_get(rng: random.Random, draft: Draft) -> str:
    if len(draft.body) > MAX_URL:
        return "body too long for a URL: unchanged"
    draft.query = draft.body.decode("latin-1")
    draft.body = b""
    draft.method = rng.choice(("GET", "DELETE", "PUT"))
    draft.set_header("Content-Type", None)
    return f"{draft.method} with the parameters in the query string"


def _odd_path(rng: random.Random, draft: Draft) -> str:
    tail = rng.choice(("%00", "%ff", "/..", "//", "%2F%2E%2E", "/" + "k" * 5000, "/%01", ";x"))
    path = draft.path.rstrip("/") + tail if rng.random() < 0.7 else tail
    draft.path = path if path.startswith("/") else "/" + path
    return f"path {draft.path[:80]!r}"


def _odd_method(rng: random.Random, draft: Draft) -> str:
    draft.method = rng.choice(("PATCH", "OPTIONS", "TRACE", "HEAD", "PROPFIND"))
    return f"method {draft.method}"


def _aws_chunked(rng: random.Random, draft: Draft) -> str:
    draft.set_header("X-Amz-Content-SHA256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    draft.set_header("Content-Encoding", "aws-chunked")
    draft.set_header("X-Amz-Decoded-Content-Length", rng.choice(("5", "-1", "x", "99999999")))
    draft.body = rng.choice(
        (b"5\r\nhello\r\n0\r\n\r\n", b"zz\r\nhello", b"ffffffffffff\r\nx", b"5;chunk-signature=\r\n",
         b"0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n", b"")
    )  # fmt: skip
    return f"aws-chunked body {draft.body!r}"


def _unsigned_payload(rng: random.Random, draft: Draft) -> str:
    draft.set_header("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")
    return "X-Amz-Content-SHA256: UNSIGNED-PAYLOAD"


def _auth_garbage(rng: random.Random, draft: Draft) -> str:
    value = rng.choice(
        (None, "", "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=", "Bearer x", "AWS a:b",
         "AWS4-HMAC-SHA256 Credential=AKIAX/20260101/us-west-2/sagemaker/aws4_request, "
         "SignedHeaders=host, Signature=zz",
         "AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f/g, SignedHeaders=, Signature=",
         "AWS4-HMAC-SHA256 Credential=\u00e9, SignedHeaders=host, Signature=00")
    )  # fmt: skip
    draft.set_header("Authorization", value)
    return f"Authorization: {value!r}"


def _tamper_body(rng: random.Random, draft: Draft) -> str:
    draft.body = draft.body + b" "
    return "a byte appended to the body after signing"


def _foreign_scope(rng: random.Random, draft: Draft) -> str:
    draft.signing_name = rng.choice(("acm-pca", "monitoring", "madeup", "sqs", "route53"))
    draft.s3_signer = False
    return f"signed for service {draft.signing_name!r}"


MUTATIONS: tuple[Mutation, ...] = (
    Mutation("none", 40, ALL, lambda rng, draft: "as serialized"),
    Mutation("body:truncate", 5, ALL, _truncate),
    Mutation("body:garbage", 4, ALL, _garbage),
    Mutation("body:invalid-utf8", 5, ALL, _invalid_utf8),
    Mutation("body:nesting", 3, ALL, _nesting),
    Mutation("body:json-variant", 3, ("json", "rest-json"), _json_variant),
    Mutation("body:json-wrong-type", 6, ("json", "rest-json"), _json_wrong_type),
    Mutation("body:xml-attack", 3, ("rest-xml",), _xml_attack),
    Mutation("body:large", 1, ALL, _large),
    Mutation("header:x-amz-target", 4, ("json",), _target),
    Mutation(
        "header:foreign-target", 1, ("rest-json", "rest-xml", "query", "ec2"), _foreign_target
    ),
    Mutation("header:duplicate", 3, ALL, _duplicate_header),
    Mutation("header:content-type", 3, ALL, _content_type),
    Mutation("query:malformed", 4, ALL, _bad_query),
    Mutation("query:as-get", 3, ("query", "ec2"), _query_as_get),
    Mutation("path:odd", 3, REST, _odd_path),
    Mutation("method:odd", 2, ALL, _odd_method),
    Mutation("s3:aws-chunked", 3, ("rest-xml",), _aws_chunked),
    Mutation("s3:unsigned-payload", 2, ("rest-xml",), _unsigned_payload),
    Mutation("scope:foreign-service", 2, ALL, _foreign_scope),
    Mutation("auth:garbage", 2, ALL, _auth_garbage, after_signing=True),
    Mutation("auth:tampered-body", 1, ALL, _tamper_body, after_signing=True),
)


def pick(rng: random.Random, protocol: str) -> Mutation:
    usable = [m for m in MUTATIONS if protocol in m.protocols]
    return rng.choices(usable, weights=[m.weight for m in usable])[0]
