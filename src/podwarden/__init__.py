"""podwarden: a self-hosted, SageMaker HyperPod-compatible cluster manager for Kubernetes."""

__version__ = "0.1.0"
