"""Layer 5: the HTTP front door. An ASGI app that authenticates (SigV4), routes by
``X-Amz-Target``, path and credential scope, decodes with ``wire``, calls ``control`` handlers
through ``operations`` and answers every error in its service family's words (``wire.errors``)."""
