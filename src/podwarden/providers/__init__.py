"""Layer 5: where instances come from. ``local``: kwok-managed nodes on a Kubernetes cluster."""
