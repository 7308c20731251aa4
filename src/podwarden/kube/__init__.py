"""Layer 3: the only user of the Kubernetes client. Speaks plain dicts (the API's JSON) and
maps client exceptions into ``podwarden.model.errors``."""
