"""The ``query`` (IAM, STS) and ``ec2`` protocols: form-encoded parameters in, XML out.

Requests are ``Action=<Op>&Version=<apiVersion>&...`` in a form body (or the query string of a
GET). Parameter names follow botocore's serializers (``QuerySerializer``/``EC2Serializer``):

- a structure member is ``<Prefix>.<Name>``, ``Name`` its ``locationName`` or member name; the
  ec2 protocol uses ``queryName``, else the ``locationName`` capitalised;
- query lists are ``<Prefix>.member.<i>`` (the list member's ``locationName`` if any), flattened
  ones ``<Prefix>.<i>``; ec2 lists are always ``<Prefix>.<i>``; an empty list is ``<Prefix>=``;
- maps are ``<Prefix>.entry.<i>.key`` / ``.value``.

Unknown parameters are ignored. Responses follow botocore's parsers: query wraps the output in
``<OpResponse><OpResult>…</OpResult><ResponseMetadata><RequestId/></ResponseMetadata>``; ec2 puts
the members straight under ``<OpResponse>`` with ``<requestId>``. Errors: query
``<ErrorResponse><Error><Type>Sender</Type><Code/><Message/></Error><RequestId/>``; ec2
``<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.wire.models import OperationModel, Shape
from podwarden.wire.text_scalars import parse
from podwarden.wire.xml_codec import encode_members, escape_text

XML_CONTENT_TYPE = "text/xml"


# the longest parameter path a model's shapes can produce is far shorter (EC2's deepest is ~120
# characters); a longer key names nothing, and indexing its prefixes would cost the square of
# its length (a 144 KB key of ".member.1" repeated held the event loop for 15 s)
MAX_PATH = 1024


class _Params:
    """The flat parameters, with every dotted prefix indexed for list/map discovery."""

    def __init__(self, flat: Mapping[str, str]) -> None:
        self.flat = flat
        self.prefixes: set[str] = set()
        for key in flat:  # linear in the key: prefixes no shape path could reach are not kept
            end = key.find(".")
            while end != -1 and end <= MAX_PATH:
                self.prefixes.add(key[:end])
                end = key.find(".", end + 1)
            if len(key) <= MAX_PATH:
                self.prefixes.add(key)

    def has(self, prefix: str) -> bool:
        return prefix in self.prefixes


def _name(shape: Shape, default: str, ec2: bool) -> str:
    if ec2:
        if "queryName" in shape.serialization:
            return str(shape.serialization["queryName"])
        if "name" in shape.serialization:
            name = str(shape.serialization["name"])
            return name[0].upper() + name[1:]
        return default
    return str(shape.serialization.get("name", default))


def decode_params(op: OperationModel, flat: Mapping[str, str], ec2: bool) -> dict[str, Any]:
    """The input parameters of ``op`` from flat form parameters (``Malformed`` on bad scalars)."""
    shape = op.input_shape
    if shape is None:
        return {}
    return _structure(shape, _Params(flat), "", ec2)


def _structure(shape: Shape, params: _Params, prefix: str, ec2: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, member in shape.members.items():
        key = _name(member, name, ec2)
        full = f"{prefix}.{key}" if prefix else key
        if params.has(full):
            out[name] = _value(member, params, full, ec2)
    return out


def _value(shape: Shape, params: _Params, prefix: str, ec2: bool) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, params, prefix, ec2)
    if kind == "list":
        return _list(shape, params, prefix, ec2)
    if kind == "map":
        return _map(shape, params, prefix)
    return parse(shape, params.flat.get(prefix, ""))


def _list(shape: Shape, params: _Params, prefix: str, ec2: bool) -> list[Any]:
    if params.flat.get(prefix) == "":
        return []
    if ec2 or shape.serialization.get("flattened"):
        base = prefix
        if not ec2 and shape.member.serialization.get("name"):
            base = ".".join([*prefix.split(".")[:-1], _name(shape.member, "", ec2)])
    else:
        base = f"{prefix}.{shape.member.serialization.get('name', 'member')}"
    items = []
    i = 1
    while params.has(f"{base}.{i}"):
        items.append(_value(shape.member, params, f"{base}.{i}", ec2))
        i += 1
    return items


def _map(shape: Shape, params: _Params, prefix: str) -> dict[str, Any]:
    base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    out: dict[str, Any] = {}
    i = 1
    while params.has(f"{base}.{i}"):
        key = params.flat.get(f"{base}.{i}.{key_name}")
        if key is not None:
            out[key] = _value(shape.value, params, f"{base}.{i}.{value_name}", False)
        i += 1
    return out


# ---- responses ------------------------------------------------------------------------------


def _xmlns(op: OperationModel, ec2: bool) -> str:
    ns = op.metadata.get("xmlNamespace")
    if not ns and ec2:
        ns = f"http://ec2.amazonaws.com/doc/{op.metadata['apiVersion']}/"
    return f' xmlns="{ns}"' if ns else ""


def encode_response(
    op: OperationModel, output: dict[str, Any], request_id: str, ec2: bool
) -> bytes:
    shape = op.output_shape
    out = ['<?xml version="1.0" encoding="UTF-8"?>', f"<{op.name}Response{_xmlns(op, ec2)}>"]
    if ec2:
        out.append(f"<requestId>{request_id}</requestId>")
        if shape is not None:
            encode_members(shape, output, out)
    else:
        wrapper = op.output_shape.serialization.get("resultWrapper") if shape is not None else None
        if shape is not None:
            out.append(f"<{wrapper or op.name + 'Result'}>")
            encode_members(shape, output, out)
            out.append(f"</{wrapper or op.name + 'Result'}>")
        out.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>")
    out.append(f"</{op.name}Response>")
    return "".join(out).encode()


def encode_error(code: str, message: str, request_id: str, ec2: bool, sender: bool = True) -> bytes:
    text = escape_text(message)
    if ec2:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Response><Errors><Error><Code>{escape_text(code)}</Code><Message>{text}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
    kind = "Sender" if sender else "Receiver"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<ErrorResponse><Error><Type>{kind}</Type><Code>{escape_text(code)}</Code>"
        f"<Message>{text}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
