"""The web dashboard over real HTTP without Kubernetes (``podwarden.dashboard``): signing in
with the API's credentials (long-term keys; STS session keys with their token), what is refused
(no session, a tampered or closed one, a wrong secret, an unknown key, a form from another
site, a write), the live stream announcing a cluster created through boto3, the packaged
static files and the security headers."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from podwarden.cli.server import local_credentials
from podwarden.dashboard.app import PREFIX, Dashboard
from podwarden.dashboard.sessions import COOKIE
from podwarden.dashboard.sources import Sources
from tests.api.aws_server import ACCOUNT, SEEDED_EKS, AwsServer

GROUP = {
    "InstanceGroupName": "workers",
    "InstanceType": "ml.c5.xlarge",
    "InstanceCount": 2,
    "ExecutionRole": f"arn:aws:iam::{ACCOUNT}:role/hyperpod",
    "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-x/lc/", "OnCreate": "on_create.sh"},
}
CRED = local_credentials()[0]
WAIT_S = 10.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsServer]:
    srv = AwsServer(Path(tmp_path_factory.mktemp("dashboard")))
    dashboard = Dashboard(
        Sources(srv.store, lambda: None),
        srv.app.sign_in,
        stopping=lambda: bool(srv.server.should_exit),
    )
    srv.app.services.mounts[PREFIX] = dashboard
    srv.start()
    yield srv
    srv.stop()


def browser(server: AwsServer) -> httpx.Client:
    """A client that behaves as the dashboard's own page would: same-origin form posts."""
    return httpx.Client(
        base_url=server.endpoint + PREFIX,
        headers={"Origin": server.endpoint},
        follow_redirects=False,
        timeout=10,
    )


def sign_in(client: httpx.Client, key: str, secret: str, token: str = "") -> httpx.Response:
    form = {"access_key_id": key, "secret_access_key": secret, "session_token": token}
    return client.post("/login", data=form)


@pytest.fixture
def signed_in(server: AwsServer) -> Iterator[httpx.Client]:
    with browser(server) as client:
        resp = sign_in(client, CRED.access_key_id, CRED.secret_access_key)
        assert resp.status_code == 303, resp.text
        yield client


def test_without_a_session_pages_redirect_and_fragments_refuse(server: AwsServer) -> None:
    with browser(server) as client:
        page = client.get("/")
        assert page.status_code == 303
        assert page.headers["location"] == f"{PREFIX}/login"
        for path in ("/clusters", "/events", "/clusters/abc/grid"):
            resp = client.get(path, headers={"HX-Request": "true"})
            assert resp.status_code == 401, path
            assert resp.headers["hx-redirect"] == f"{PREFIX}/login"
        assert client.get("/login").status_code == 200


def test_sign_in_sets_a_strict_http_only_cookie(server: AwsServer) -> None:
    with browser(server) as client:
        resp = sign_in(client, CRED.access_key_id, CRED.secret_access_key)
        assert resp.status_code == 303
        assert resp.headers["location"] == f"{PREFIX}/"
        cookie = resp.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        for attribute in ("HttpOnly", "SameSite=Strict", f"Path={PREFIX}", "Max-Age="):
            assert attribute in cookie
        page = client.get("/")
        assert page.status_code == 200
        assert f"account {ACCOUNT}" in page.text


@pytest.mark.parametrize(
    ("key", "secret", "token"),
    [
        (CRED.access_key_id, CRED.secret_access_key + "x", ""),  # a wrong secret
        (CRED.access_key_id, "", ""),
        ("AKIAUNKNOWN000000000", CRED.secret_access_key, ""),  # an unknown key
        ("", CRED.secret_access_key, ""),
        (CRED.access_key_id, CRED.secret_access_key, "a-token"),  # long-term keys take none
    ],
    ids=["wrong-secret", "no-secret", "unknown-key", "no-key", "token-with-long-term-key"],
)
def test_bad_credentials_open_no_session(
    server: AwsServer, key: str, secret: str, token: str
) -> None:
    with browser(server) as client:
        resp = sign_in(client, key, secret, token)
        assert resp.status_code == 401
        assert "set-cookie" not in resp.headers
        assert "is not valid" in resp.text
        assert client.get("/").status_code == 303


def test_a_tampered_or_forged_cookie_is_refused(server: AwsServer, signed_in: httpx.Client) -> None:
    value = signed_in.cookies[COOKIE]
    sid, _, mac = value.partition(".")
    flipped = ("A" if sid[0] != "A" else "B") + sid[1:]
    forged = [
        f"{flipped}.{mac}",  # another session id under the old signature
        f"{sid}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",  # the signature changed
        sid,  # no signature
        "",
    ]
    with browser(server) as other:
        for bad in forged:
            other.cookies.set(COOKIE, bad, path=PREFIX)
            assert other.get("/").status_code == 303, bad
            other.cookies.clear()
        other.cookies.set(COOKIE, value, path=PREFIX)  # the real one works from anywhere
        assert other.get("/").status_code == 200


def test_sign_out_closes_the_session(server: AwsServer, signed_in: httpx.Client) -> None:
    value = signed_in.cookies[COOKIE]
    resp = signed_in.post("/logout")
    assert resp.status_code == 303
    assert "Max-Age=0" in resp.headers["set-cookie"]
    with browser(server) as again:
        again.cookies.set(COOKIE, value, path=PREFIX)
        assert again.get("/").status_code == 303  # the old value opens nothing any more


def test_forms_from_another_site_and_writes_are_refused(
    server: AwsServer, signed_in: httpx.Client
) -> None:
    form = {"access_key_id": CRED.access_key_id, "secret_access_key": CRED.secret_access_key}
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"}):
        resp = signed_in.post("/login", data=form, headers=headers)
        assert resp.status_code == 403
        assert "set-cookie" not in resp.headers
    with httpx.Client(base_url=server.endpoint + PREFIX) as bare:
        resp = bare.post("/login", data=form, headers={"Sec-Fetch-Site": "cross-site"})
        assert resp.status_code == 403
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert signed_in.request(method, "/clusters").status_code == 405


def test_temporary_credentials_sign_in_with_their_token(server: AwsServer) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    server.client("iam").create_role(
        RoleName="dashboard-viewer", AssumeRolePolicyDocument=json.dumps(trust)
    )
    creds = server.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/dashboard-viewer", RoleSessionName="dashboard"
    )["Credentials"]
    with browser(server) as client:
        key, secret = creds["AccessKeyId"], creds["SecretAccessKey"]
        assert sign_in(client, key, secret).status_code == 401  # the token is required
        assert sign_in(client, key, secret, "wrong").status_code == 401
        resp = sign_in(client, key, secret, creds["SessionToken"])
        assert resp.status_code == 303
        age = int(resp.headers["set-cookie"].split("Max-Age=")[1].split(";")[0])
        assert 0 < age <= 3600  # the session ends with the credentials (AssumeRole: 1 h)
        assert client.get("/").status_code == 200


def test_static_files_are_served_from_the_package(server: AwsServer) -> None:
    with httpx.Client(base_url=server.endpoint + PREFIX) as client:
        htmx = client.get("/static/htmx.min.js")
        assert htmx.status_code == 200
        assert htmx.headers["content-type"].startswith("text/javascript")
        assert "htmx" in htmx.text[:200]
        assert client.get("/static/sse.js").status_code == 200
        assert client.get("/static/dashboard.css").status_code == 200
        assert client.get("/static/VENDORED.txt").status_code == 200
        for bad in (
            "/static/%2e%2e%2fapp.py",
            "/static/app.py",
            "/static/.hidden.js",
            "/static/x.js",
        ):
            assert client.get(bad).status_code == 404, bad
        login = client.get("/login")
        assert "<script" in login.text
        assert "//" not in "".join(
            line.split('src="')[1].split('"')[0]
            for line in login.text.splitlines()
            if "<script" in line
        )  # every script comes from this server's path, none from elsewhere


def test_security_headers(server: AwsServer, signed_in: httpx.Client) -> None:
    resp = signed_in.get("/")
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["cache-control"] == "no-store"


def _stream(server: AwsServer, cookie: str, lines: queue.Queue[str], stop: threading.Event) -> None:
    with (
        httpx.Client(base_url=server.endpoint + PREFIX, timeout=30) as client,
        client.stream("GET", "/events", headers={"Cookie": f"{COOKIE}={cookie}"}) as resp,
    ):
        lines.put(f"status {resp.status_code}")
        for line in resp.iter_lines():
            lines.put(line)
            if stop.is_set():
                return


def test_a_cluster_created_through_the_api_is_announced_and_shown(
    server: AwsServer, signed_in: httpx.Client
) -> None:
    lines: queue.Queue[str] = queue.Queue()
    stop = threading.Event()
    reader = threading.Thread(
        target=_stream, args=(server, signed_in.cookies[COOKIE], lines, stop), daemon=True
    )
    reader.start()
    assert lines.get(timeout=WAIT_S) == "status 200"
    assert lines.get(timeout=WAIT_S) == ": listening"
    arn = server.client("sagemaker").create_cluster(
        ClusterName="dash-live", InstanceGroups=[GROUP], Orchestrator=SEEDED_EKS
    )["ClusterArn"]
    cluster_id = arn.rsplit("/", 1)[1]
    seen: list[str] = []
    deadline = time.monotonic() + WAIT_S
    while f"event: c-{cluster_id}" not in seen or "event: clusters" not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no event for cluster {cluster_id} in {WAIT_S} s; stream said {seen}"
        seen.append(lines.get(timeout=left))
    stop.set()
    listing = signed_in.get("/clusters")
    assert f'id="cluster-{cluster_id}"' in listing.text
    assert "dash-live" in listing.text
    page = signed_in.get(f"/clusters/{cluster_id}")
    assert page.status_code == 200
    assert "workers" in page.text
    assert "not connected yet" in page.text  # no Kubernetes behind this server
    for part in ("summary", "grid", "timeline", "jobs"):
        assert signed_in.get(f"/clusters/{cluster_id}/{part}").status_code == 200
    assert signed_in.get("/clusters/nosuchcluster0").status_code == 404


def test_an_open_event_stream_does_not_hold_up_shutdown(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    srv = AwsServer(Path(tmp_path_factory.mktemp("dashboard-stop")))
    srv.app.services.mounts[PREFIX] = Dashboard(
        Sources(srv.store, lambda: None),
        srv.app.sign_in,
        stopping=lambda: bool(srv.server.should_exit),
    )
    srv.start()
    with browser(srv) as client:
        assert sign_in(client, CRED.access_key_id, CRED.secret_access_key).status_code == 303
        cookie = client.cookies[COOKIE]
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(
        target=_stream, args=(srv, cookie, lines, threading.Event()), daemon=True
    )
    reader.start()
    assert lines.get(timeout=WAIT_S) == "status 200"
    assert lines.get(timeout=WAIT_S) == ": listening"
    started = time.monotonic()
    srv.stop()
    reader.join(WAIT_S)
    assert not reader.is_alive(), "the event stream outlived the server"
    assert not srv.thread.is_alive(), "the server waited for the open event stream"
    assert time.monotonic() - started < WAIT_S
