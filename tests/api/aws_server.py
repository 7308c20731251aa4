"""The API server over real HTTP (uvicorn in a thread, a throwaway SQLite store) without
Kubernetes, and boto3 clients for it: what the local AWS account's tests talk to."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import uvicorn
from botocore.config import Config  # type: ignore[import-untyped]

from podwarden.api.app import ApiSettings, PodwardenApp, Services, build_app
from podwarden.cli.server import CatalogInstanceTypes, bound_port, local_credentials
from podwarden.policy.catalog import load_catalog
from podwarden.store.sql import Store, sqlite_url

REGION = "us-west-2"


class AwsServer:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.store = Store(sqlite_url(data_dir))
        services = Services(
            store=self.store,
            instance_types=CatalogInstanceTypes(load_catalog()),
            wake=lambda: None,
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
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AwsServer:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("server thread died while starting")
            self.thread.join(0.02)
        self.port = bound_port(self.server)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.store.close()

    def client(self, service: str, endpoint: str | None = None, **config: Any) -> Any:
        cred = local_credentials()[0]
        return boto3.client(
            service,
            endpoint_url=endpoint or self.endpoint,
            region_name=REGION,
            aws_access_key_id=cred.access_key_id,
            aws_secret_access_key=cred.secret_access_key,
            config=Config(retries={"max_attempts": 1}, **config),
        )
