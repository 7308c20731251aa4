"""Layer 3: the wire. The only user of botocore: service models (``models``), one shape-walking
validator (``validate``), one codec per protocol (``json_protocol``, ``rest_protocol``,
``query_protocol``...: ``protocols`` picks), SigV4/SigV2 verification, and the error tables that
word domain errors per service family (``errors`` and ``errors_<family>``)."""
