# The image of podwarden's health agent (deploy/helm/podwarden-health-agent). From the
# repository root:  docker build -f deploy/health-agent.Dockerfile -t podwarden:0.1.0 .
# NVML (libnvidia-ml.so.1) is not in the image: the NVIDIA container runtime mounts the node's
# driver library when the pod sets NVIDIA_VISIBLE_DEVICES (the chart does, on GPU nodes).
FROM python:3.11-slim
COPY pyproject.toml README.md /src/
COPY src /src/src
RUN pip install --no-cache-dir /src && rm -rf /src
ENTRYPOINT []
CMD ["podwarden", "--help"]
