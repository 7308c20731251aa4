"""Training jobs: the Kubernetes keys and resource names HyperPod's job features use
(docs/sources.md, "Job auto-resume", "HyperPod training operator" and "The hyp CLI";
docs/requirements.md), and podwarden's own keys for the simulated training that runs on kwok
nodes.

One place for every string a job reconciler, the training simulator, the HyperPod training
operator and the tests share.
"""

from __future__ import annotations

# --- Kubeflow training operator (PyTorchJob, kubeflow.org/v1) ----------------------------------
KUBEFLOW_GROUP = "kubeflow.org"
KUBEFLOW_VERSION = "v1"
PYTORCHJOBS = "pytorchjobs"
PYTORCHJOB_KIND = "PyTorchJob"
# labels Kubeflow puts on a job's pods
KUBEFLOW_JOB_NAME = "training.kubeflow.org/job-name"
KUBEFLOW_REPLICA_TYPE = "training.kubeflow.org/replica-type"
KUBEFLOW_REPLICA_INDEX = "training.kubeflow.org/replica-index"
KUBEFLOW_OPERATOR_NAME = "training.kubeflow.org/operator-name"

# --- HyperPod job auto-resume (docs/sources.md, "Job auto-resume") --------------------------------
AUTO_RESUME = "sagemaker.amazonaws.com/enable-job-auto-resume"  # "true"
MAX_RETRY = "sagemaker.amazonaws.com/job-max-retry-count"  # "<n>", a string
# Namespaces where auto-resume applies: "kubeflow" or a name starting with "hyperpod".
AUTO_RESUME_NAMESPACE = "kubeflow"
AUTO_RESUME_NAMESPACE_PREFIX = "hyperpod"
# The Kubernetes user HyperPod's restart watcher acts as (Helm sub-chart job-auto-restart).
SERVICE_LINKED_USER = "hyperpod-service-linked-role"

# --- HyperPod training operator (HPTO; docs/sources.md, "HyperPod training operator") ---------
HPTO_GROUP = "sagemaker.amazonaws.com"
HPTO_VERSION = "v1"
HPTO_PLURAL = "hyperpodpytorchjobs"
HPTO_KIND = "HyperPodPyTorchJob"
HPTO_CRD = f"{HPTO_PLURAL}.{HPTO_GROUP}"
HPTO_JOB_LABEL = "HPJob"  # on every pod of a job: HPJob=<job name>
HPTO_NAMESPACE = "aws-hyperpod"
HPTO_CONTROL_PLANE_LABEL = "hp-training-control-plane"
HPTO_ADDON = "amazon-sagemaker-hyperpod-training-operator"

# --- kwok's Logs objects (kwok.x-k8s.io/v1alpha1): where a simulated container's log file is ---
KWOK_GROUP = "kwok.x-k8s.io"
KWOK_VERSION = "v1alpha1"
KWOK_LOGS = "logs"

# --- podwarden's job auto-resume bookkeeping, kept on the PyTorchJob (training.auto_resume) ----
# how many whole-job restarts auto-resume has made, "<n>": counted against MAX_RETRY
AUTO_RESUME_RESTARTS = "podwarden.io/auto-resume-restarts"
# the uids of the pods the last restart removed (comma-separated): a pod listed here is a
# leftover of a fault already counted, never a new one
AUTO_RESUME_HANDLED_PODS = "podwarden.io/auto-resume-handled-pods"

# --- podwarden's HyperPod training operator (training/hpto.py): its add-on objects and the
# bookkeeping labels on the pods of a HyperPodPyTorchJob. The pods themselves are the operator's
# memory of which pod plays which part, so a restarted operator reads it back from them.
HPTO_OPERATOR = "hp-training-operator-controller-manager"  # Deployment and service account
HPTO_REPLICA_LABEL = "podwarden.io/hpjob-replica"  # the replicaSpecs[].name of the pod
HPTO_SLOT_LABEL = "podwarden.io/hpjob-slot"  # its place among the spec's replicas + spares
HPTO_GENERATION_LABEL = "podwarden.io/hpjob-generation"  # status.restartCount when created
HPTO_ROLE_LABEL = "podwarden.io/hpjob-role"  # HPTO_WORKER or HPTO_SPARE
HPTO_RANK_LABEL = "podwarden.io/hpjob-rank"  # a worker's rank within its replica spec
HPTO_WORKER = "worker"
HPTO_SPARE = "spare"

# --- podwarden's simulated training on kwok nodes (training/simulator.py) ----------------------
# Set on a job's pod by the simulator; the kwok Stages of policy/tables/kwok_pod_stages.yaml end
# the pod: "succeeded" -> phase Succeeded, "failed" -> phase Failed, its containers terminated
# with the exit code, reason and message of the annotations below.
TRAINING_STATE = "podwarden.io/training-state"
TRAINING_SUCCEEDED = "succeeded"
TRAINING_FAILED = "failed"
TRAINING_EXIT_CODE = "podwarden.io/training-exit-code"
TRAINING_REASON = "podwarden.io/training-reason"
TRAINING_MESSAGE = "podwarden.io/training-message"
# A job's checkpoint record: a ConfigMap in the job's namespace, owned by the job, labelled so
TRAINING_CHECKPOINT_LABEL = "podwarden.io/training-checkpoint"
