"""EC2 networking of the local AWS account.

Enough EC2 to build and inspect a HyperPod VPC as AWS's setup templates do (VPC, subnets in
several zones, route tables, internet / egress-only / NAT gateways, Elastic IPs, security groups)
and to answer the same Describe* calls AWS answers, filters and pages included. One module per
resource: ``vpcs``, ``subnets``, ``zones``, ``route_tables`` and ``routes``, ``gateways`` (internet
and egress-only gateways), ``addresses``, ``nat_gateways``, ``security_groups`` and ``sg_rules``
(their rules), ``tags`` (which cross every type). They share ``resources`` (the types: record
kind, id, tag type), ``records`` (the store), ``describe`` (the generic Describe), ``filters``
(the filter engine), ``cidrs``, ``text`` (the characters EC2 takes) and ``parameters`` (DryRun,
ClientToken, unsupported inputs). Errors are domain errors whose reasons
``podwarden.wire.errors_ec2`` words as AWS does. Every handler is wrapped for ``DryRun``.
"""

from podwarden.control.ec2 import (
    addresses,
    gateways,
    nat_gateways,
    route_tables,
    routes,
    security_groups,
    subnets,
    tags,
    vpcs,
    zones,
)
from podwarden.control.ec2.parameters import dry_runnable
from podwarden.control.registry import merge

OPERATIONS = merge(
    vpcs.OPERATIONS,
    subnets.OPERATIONS,
    zones.OPERATIONS,
    route_tables.OPERATIONS,
    routes.OPERATIONS,
    gateways.OPERATIONS,
    addresses.OPERATIONS,
    nat_gateways.OPERATIONS,
    security_groups.OPERATIONS,
    tags.OPERATIONS,
    wrap=dry_runnable,
)
