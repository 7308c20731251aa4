"""Layer 3: the wire. The only user of botocore: service models (``models``), one shape-walking
validator (``validate``), one codec per protocol (``json_protocol`` for awsJson1.1, botocore's
``json``) and the table that maps domain errors to ``__type`` and HTTP status (``errors``)."""
