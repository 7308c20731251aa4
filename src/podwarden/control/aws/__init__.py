"""Handlers of the local AWS account: EKS, EC2 networking, IAM, STS and S3.

Each handler is a plain function ``(ctx: Context, params: dict) -> dict``: ``params`` is the
operation's input as botocore's client takes it (member names of the input shape, already
validated against botocore's model by the protocol layer: required, min/max, pattern, enum;
timestamps are aware ``datetime``, blobs ``bytes``), and the result is the output shape as a dict
with the model's member names (``Vpcs``, ``cluster``, ``Role``...). The protocol layer
(``podwarden.wire.protocols``) turns it into rest-json, query, ec2 or rest-xml; handlers never
see XML, query strings or URL templates.

Failures are raised as ``ServiceError(code, message, status, **fields)`` with the service's own
codes (EKS ``ResourceNotFoundException`` 404, EC2 ``InvalidVpcID.NotFound`` 400, IAM
``NoSuchEntity`` 404, S3 ``NoSuchBucket`` 404...). State lives in ``ctx.store.resources``
(``podwarden.store.resources``): one record per resource, kinds named ``"<service>:<type>"``.
"""
