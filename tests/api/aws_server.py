"""The API server over real HTTP (uvicorn in a thread, a throwaway SQLite store) without
Kubernetes, and boto3 clients for it: what the local AWS account's tests talk to."""

from __future__ import annotations

import time
from pathlib import Path

import uvicorn

from podwarden.api.app import ApiSettings, PodwardenApp, Services, build_app
from podwarden.cli.server import CatalogInstanceTypes, local_credentials
from podwarden.policy.catalog import load_catalog
from podwarden.store.sql import Store, sqlite_url
from tests.local_endpoint import ThreadedServer

REGION = "us-west-2"
ACCOUNT = "000000000000"
# a HyperPod Orchestrator naming the seeded EKS cluster (the server runs no preflight)
SEEDED_EKS = {"Eks": {"ClusterArn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/podwarden"}}


class AwsServer(ThreadedServer):
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        store = Store(sqlite_url(data_dir))
        services = Services(
            store=store,
            instance_types=CatalogInstanceTypes(load_catalog()),
            notify=lambda _change: None,
            now=time.time,
        )
        self.app: PodwardenApp = build_app(ApiSettings(credentials=local_credentials()), services)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=0,
            http="httptools",
            loop="uvloop",
            lifespan="on",
            log_level="warning",
            access_log=False,
        )
        super().__init__(uvicorn.Server(config), store)
