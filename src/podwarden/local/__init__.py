"""Local mode: a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, kwok) built from Go modules and run on loopback.

``components`` and ``planner`` are the pure plan of processes; ``runtime`` executes it and
``processes`` supervises them. Modules ``toolchain``, ``assets`` and ``build`` use only the
standard library.
"""
