"""A request under construction: serialized by botocore, mutated, signed with SigV4, sent over
real HTTP. Signing comes after the mutations (so a garbage body still reaches the codecs) unless a
mutation tampers with the signed request itself."""

from __future__ import annotations

import http.client
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from botocore.auth import S3SigV4Auth, SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import (  # type: ignore[import-untyped]
    AWSRequest,
    prepare_request_dict,
)
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from botocore.serialize import create_serializer  # type: ignore[import-untyped]

REGION = "us-west-2"
TIMEOUT_S = 10.0
MAX_HEADER = 8 * 1024  # uvicorn refuses oversized header blocks itself, before the app
_HEADER_JUNK = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# A header name HTTP can carry (metadata keys from the generator may not be; botocore's client
# could not send those either)
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@dataclass
class Draft:
    method: str
    path: str  # percent-encoded
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    signing_name: str
    s3_signer: bool = False
    signed: bool = field(default=False)

    @classmethod
    def serialized(cls, model: Any, operation: Any, params: dict[str, Any]) -> Draft:
        """The request botocore's serializer makes of ``params`` (no validation, as a hostile
        client would send it)."""
        serializer = create_serializer(model.protocol, include_validation=False)
        request = serializer.serialize_to_request(params, operation)
        body = request["body"]
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body, doseq=True).encode()
        elif isinstance(body, str):
            body = body.encode()
        elif body is None or not isinstance(body, bytes):
            body = bytes(body or b"")
        prepare_request_dict(request, "http://host")
        split = urllib.parse.urlsplit(request["url"])
        headers = [(k, _header(str(v))) for k, v in request["headers"].items() if _TOKEN.match(k)]
        return cls(
            method=request["method"],
            path=split.path or "/",
            query=split.query,
            headers=headers,
            body=body,
            signing_name=model.signing_name,
            s3_signer=model.signing_name == "s3",
        )

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def set_header(self, name: str, value: str | None) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        if value is not None:
            self.headers.append((name, value))

    def sign(self, host: str, key: str, secret: str) -> None:
        """SigV4 as botocore's clients sign (S3's signer for S3 unless the draft already names
        its payload hash, e.g. UNSIGNED-PAYLOAD or a streaming one)."""
        url = f"http://{host}{self.path}" + (f"?{self.query}" if self.query else "")
        request = AWSRequest(method=self.method, url=url, data=self.body)
        for name, value in self.headers:
            request.headers[name] = value  # HTTPHeaders appends: a repeated header stays repeated
        request.headers["Host"] = host
        use_s3 = self.s3_signer and self.header("X-Amz-Content-SHA256") is None
        signer = S3SigV4Auth if use_s3 else SigV4Auth
        signer(Credentials(key, secret), self.signing_name, REGION).add_auth(request)
        self.headers = [(k, v) for k, v in request.headers.items() if k.lower() != "host"]
        self.signed = True

    def send(self, host: str, port: int) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
        try:
            target = self.path + (f"?{self.query}" if self.query else "")
            conn.putrequest(self.method, target, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host)
            for name, value in self.headers:
                if name.lower() != "content-length":
                    conn.putheader(name, value.encode("latin-1", "replace"))
            conn.putheader("Content-Length", str(len(self.body)))
            conn.endheaders(self.body)
            response = conn.getresponse()
            body = response.read()
            return response.status, response.getheaders(), body
        finally:
            conn.close()


def _header(value: str) -> str:
    """A header value http.client can send (as botocore's client would have to)."""
    clean = _HEADER_JUNK.sub("?", value[:MAX_HEADER])
    return clean.encode("latin-1", "replace").decode("latin-1")
