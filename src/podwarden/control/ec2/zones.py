"""Availability Zones: DescribeAvailabilityZones over the region's zones
(``podwarden.policy.ec2_zones``), all ``available`` and opted in, none of them a Local Zone."""

from __future__ import annotations

from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.ec2.filters import at, named, select
from podwarden.control.ec2.records import Doc
from podwarden.model.errors import Invalid
from podwarden.policy.ec2_zones import Zone, zones


def _zone_doc(zone: Zone) -> Doc:
    return {
        "ZoneName": zone.name,
        "ZoneId": zone.zone_id,
        "RegionName": zone.region,
        "State": "available",
        "OptInStatus": "opt-in-not-required",
        "Messages": [],
        "GroupName": zone.region,
        "GroupLongName": zone.region,
        "NetworkBorderGroup": zone.region,
        "ZoneType": "availability-zone",
    }


ZONE_FILTERS = {
    **named(
        "GroupLongName", "GroupName", "OptInStatus", "ParentZoneId", "ParentZoneName",
        "RegionName", "State", "ZoneId", "ZoneName", "ZoneType",
    ),
    "message": at("Messages", "Message"),
}  # fmt: skip


def describe_availability_zones(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    docs = [_zone_doc(z) for z in zones(ctx.region)]
    for member, key in (("ZoneNames", "ZoneName"), ("ZoneIds", "ZoneId")):
        wanted = params.get(member) or []
        unknown = [w for w in wanted if w not in {d[key] for d in docs}]
        if unknown:
            raise Invalid(f"Invalid availability zone: [{', '.join(unknown)}]")
        if wanted:
            docs = [d for d in docs if d[key] in wanted]
    return {"AvailabilityZones": select(docs, params.get("Filters"), ZONE_FILTERS)}


OPERATIONS: Operations = {"DescribeAvailabilityZones": describe_availability_zones}
