"""Layer 5: the HTTP front door. An ASGI app that authenticates (SigV4), routes by
``X-Amz-Target`` and credential scope, decodes with ``wire``, calls ``control`` handlers and
maps every error through one table."""
