"""Checks that gather facts from outside: the HyperPod-on-EKS preflight's collectors, its two
transports (botocore against an AWS endpoint, the handler table inside the server), the
enforcement CreateCluster/UpdateCluster call, and the ``podwarden preflight`` command's glue."""
