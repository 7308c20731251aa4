"""Layer 5: reconcile loops. Read desired state from the store and observed state from
Kubernetes, ask ``podwarden.logic`` for a plan, apply it through the providers."""
