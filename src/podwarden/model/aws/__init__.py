"""The local AWS account's domain: what its records are called (``kinds``), where they live
(``scope``), how every ARN podwarden reads or writes is built and parsed (``arns``), and the
private state kept inside AWS-shaped documents (``private``).

Handlers (``podwarden.control.<service>``), reconcilers (``podwarden.operator``), the API layer
and the preflight all speak of the account through these types; none of them declares a record
kind, an ARN pattern or a scope string of its own.
"""
