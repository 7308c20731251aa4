"""The characters EC2 takes in the strings it stores, where botocore's model is silent.

Every refusal here is InvalidParameterValue (``Invalid``) with the message AWS answers.

EC2's model gives no ``pattern`` (nor ``max``) for any of these strings, so podwarden applies
the rules AWS documents, with the code and messages AWS answers where they are quoted in public
issues; a request that breaks one stores nothing. Together they also keep every stored string
one that XML 1.0 can carry, so that no DescribeSecurityGroups / DescribeVpcs... of any client is
made unparseable by what another client stored.

- Security group names and descriptions (CreateSecurityGroup ``GroupName``, ``Description``):
  "Constraints: Up to 255 characters in length. Valid characters: a-z, A-Z, 0-9, spaces, and
  ._-:/()#,@[]+=&;{}!$*" (EC2 API reference, CreateSecurityGroup). A value with a non-ASCII
  character answers ``InvalidParameterValue`` "Value (<v>) for parameter GroupDescription is
  invalid. Character sets beyond ASCII are not supported." (quoted in
  hashicorp/terraform-provider-aws#43854); any other value outside the set (or longer than 255)
  "Invalid security group description. Valid descriptions are strings less than 256 characters
  from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*" (two spaces after "set:", quoted in
  cds-snc/notification-terraform#561). For ``GroupName`` the same two messages naming the group
  name are podwarden's, by analogy: AWS's wording was not found.
- Security group rule descriptions (``Description`` of an IpRange, Ipv6Range, PrefixListId or
  UserIdGroupPair): the same length and set (EC2 API reference, IpRange), "Invalid rule
  description. Valid descriptions are strings less than 256 characters from the following set:
  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*" (quoted in aws-cloudformation/cfn-lint#173).
- Tags (``TagSpecifications`` of every Create*, CreateTags): "Maximum key length - 128 Unicode
  characters in UTF-8", "Maximum value length - 256 Unicode characters in UTF-8", no ``aws:``
  prefix in any case (AWS tagging docs, "Tag restrictions"): "Value ( aws:x ) for parameter key
  is invalid. Tag keys starting with 'aws:' are reserved for internal use" (quoted in
  cloud-custodian/cloud-custodian#5975), "Tag value exceeds the maximum length of 256
  characters" (quoted in iriusrisk/GoCD-EC2-Elastic-Agent-Plugin#24; the key's twin is by
  analogy). Otherwise "EC2 allows for any character in its tags" (EC2 User Guide, "Tag
  restrictions"); podwarden refuses the code points XML 1.0 cannot carry (C0 controls but tab,
  line feed and carriage return; surrogates; U+FFFE, U+FFFF), which no EC2 response could show:
  "Value ( <v> ) for parameter value is invalid. Tag values cannot contain the character U+0002
  (XML 1.0 cannot carry it)." is podwarden's wording, AWS's being unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from podwarden.model.errors import Invalid

# CreateSecurityGroup's documented set, for group names, group and rule descriptions.
GROUP_CHARACTERS: Final = "a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*"
_GROUP_TEXT: Final = re.compile(r"[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]{0,255}")
GROUP_TEXT_MAX: Final = 255
# Outside XML 1.0's Char production (section 2.2 of the XML 1.0 recommendation).
_NOT_XML_CHAR: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
TAG_KEY_MAX: Final = 128
TAG_VALUE_MAX: Final = 256


def _outside_set(noun: str) -> Invalid:
    return Invalid(
        f"Invalid {noun}. Valid {noun.rsplit(' ', 1)[-1]}s are strings less than "
        f"{GROUP_TEXT_MAX + 1} characters from the following set:  {GROUP_CHARACTERS}"
    )


def group_text(value: str, param: str, noun: str) -> str:
    """A security group's name or description (``param`` names it, ``noun`` is "security group
    description" or "security group name"), or the error AWS answers."""
    if not value.isascii():
        raise Invalid(
            f"Value ({value}) for parameter {param} is invalid. Character sets beyond ASCII are "
            "not supported."
        )
    if _GROUP_TEXT.fullmatch(value) is None:
        raise _outside_set(noun)
    return value


def rule_description(entry: Mapping[str, Any]) -> None:
    """The ``Description`` of an IpRange, Ipv6Range or UserIdGroupPair input, if any."""
    value = entry.get("Description")
    if value is not None and _GROUP_TEXT.fullmatch(str(value)) is None:
        raise _outside_set("rule description")


def _tag_text(value: str, param: str, limit: int) -> None:
    bad = _NOT_XML_CHAR.search(value)
    if bad is not None:
        raise Invalid(
            f"Value ( {value} ) for parameter {param} is invalid. Tag {param}s cannot contain "
            f"the character U+{ord(bad.group()):04X} (XML 1.0 cannot carry it)."
        )
    if len(value) > limit:
        raise Invalid(f"Tag {param} exceeds the maximum length of {limit} characters")


def check_tags(tags: Iterable[Mapping[str, Any]]) -> None:
    """Every tag of a TagSpecifications or CreateTags input, checked before anything is stored.
    A ``Value`` may be absent (CreateTags: an empty value)."""
    for tag in tags:
        key = str(tag.get("Key") or "")
        if not key:
            raise Invalid(
                f"Value ( {key} ) for parameter key is invalid. Tag key cannot be null or empty."
            )
        if key.lower().startswith("aws:"):
            raise Invalid(
                f"Value ( {key} ) for parameter key is invalid. Tag keys starting with 'aws:' "
                "are reserved for internal use"
            )
        _tag_text(key, "key", TAG_KEY_MAX)
        _tag_text(str(tag.get("Value") or ""), "value", TAG_VALUE_MAX)
