"""Training jobs on the Kubernetes podwarden manages: the simulated trainer on kwok nodes,
HyperPod's job auto-resume for Kubeflow PyTorchJobs, and the HyperPod training operator."""
