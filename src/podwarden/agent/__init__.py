"""Layer 5: the health-monitoring agent. Sources produce signals (kernel log, NVML, Neuron,
simulated faults injected into kwok nodes); ``podwarden.logic.faults`` classifies and assesses
them with the fault policy; the exporter writes the verdict onto the node (labels, annotation,
conditions, taint, events), where the recovery path of the cluster reconciler picks it up."""
