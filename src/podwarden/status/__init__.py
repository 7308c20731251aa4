"""``podwarden status``: the picture of a running server's HyperPod clusters (clusters, instance
groups, nodes by status and health, recent events), read through its API as any client would
(``client``) and shaped for the terminal (``picture``; ``cli/status.py`` draws it)."""
