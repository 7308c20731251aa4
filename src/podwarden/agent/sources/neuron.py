"""AWS Neuron (Trainium, Inferentia) hardware errors in the kernel log.

The Neuron driver prints one line per hardware error, for example (aws-neuron-sdk, Neuron
runtime troubleshooting guide, "Hardware errors")::

    NEURON_HW_ERR=SRAM_UNCORRECTABLE_ERROR instance-id=i-0592464924bd45322
        hostname=ip-172-31-61-252 nd-id=0 nc-id=0 serial-num=19fcda00f5ff6eb9
        action=TERMINATE_INSTANCE

(one line in the log). AWS's Neuron problem detector, which HyperPod's health agent runs on
Trainium nodes, matches four kinds: ``SRAM_UNCORRECTABLE_ERROR``, ``NC_UNCORRECTABLE_ERROR``,
``HBM_UNCORRECTABLE_ERROR`` and ``DMA_ERROR`` (aws-neuron-sdk
``src/k8/neuron-problem-detector/k8s-neuron-problem-detector-and-recovery-config.yml``). Each
becomes a named signal; another kind becomes ``neuron_hw_error`` so that a new driver message is
seen (as an Event, by default) rather than dropped. The fault policy decides the action.
"""

from __future__ import annotations

import re

from podwarden.logic.faults import Signal

HW_ERROR = re.compile(r"NEURON_HW_ERR=(?P<kind>[A-Z0-9_]+)(?P<rest>.*)")
DEVICE_ID = re.compile(r"\b(?:nd-id|device)=(?P<id>\d+)")

SIGNAL_FOR_KIND = {
    "SRAM_UNCORRECTABLE_ERROR": "neuron_sram_uncorrectable",
    "NC_UNCORRECTABLE_ERROR": "neuron_nc_uncorrectable",
    "HBM_UNCORRECTABLE_ERROR": "neuron_hbm_uncorrectable",
    "DMA_ERROR": "neuron_dma_error",
}
OTHER = "neuron_hw_error"


def parse_neuron_line(line: str, at: float, boot_id: str = "") -> Signal | None:
    """The Neuron hardware-error signal a kernel-log line carries, if any.

    The device is ``nd<N>`` (the Neuron device id), so two errors of one kind on one device in
    one boot count once, like an Xid on one GPU; the NeuronCore id only goes into the message.
    Lines without a device id (test lines such as ``NEURON_HW_ERR=DMA_ERROR affecting neuron
    devices``) are node-wide."""
    m = HW_ERROR.search(line)
    if m is None:
        return None
    device = DEVICE_ID.search(m["rest"])
    return Signal(
        at=at,
        name=SIGNAL_FOR_KIND.get(m["kind"], OTHER),
        device=f"nd{device['id']}" if device else "",
        boot_id=boot_id,
        message=line[m.start() :].strip(),
    )
