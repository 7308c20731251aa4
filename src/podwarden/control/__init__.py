"""Layer 4: the handlers. One subpackage per service (``sagemaker``, ``eks``, ``ec2``, ``iam``,
``sts``, ``s3``), each exporting its ``OPERATIONS`` (``registry.merge``). A handler takes a
validated input dict (the operation's input shape) and returns the output dict; it raises domain
errors with a reason (``model.errors``), never wire codes: ``wire.errors_<family>`` words them.
"""
