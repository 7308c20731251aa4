"""Layer 4: where instances come from. ``local``: kwok-managed nodes on a Kubernetes cluster,
with a watched cache of them; ``kubes``: one connection (instances, health agent, training
services) per Kubernetes that hosts HyperPod nodes; ``eks_target``: which Kubernetes that is
for a HyperPod cluster."""
