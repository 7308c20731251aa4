"""A signature authorizes exactly the request it was made for (issue #17, item 1), tested from the
outside over real HTTP against a loopback server: for every protocol family podwarden speaks
(awsJson: SageMaker; rest-json: EKS; query: IAM, STS; ec2; rest-xml: S3), a signature scoped to
another service, to a region that does not exist or to a made-up service, a routing header left
out of the signature, an unsigned payload outside S3, a replayed presigned URL, a session token
on long-term keys and an expired session are all refused, with the family's own error that
botocore parses, and nothing is executed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from botocore.auth import S3SigV4QueryAuth, SigV4QueryAuth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from podwarden.model.aws.kinds import STS_SESSION as SESSION
from podwarden.model.aws.scope import GLOBAL as SCOPE
from tests.api.aws_server import AwsServer
from tests.api.signing import (
    CRED,
    FAMILIES,
    FORM_CT,
    JSON_CT,
    REGION,
    Req,
    form,
    parsed_error,
    sagemaker_list,
    send,
    sign,
)
from tests.aws_helpers import SAGEMAKER_TRUST_POLICY

EKS_ARN = "arn:aws:eks:us-west-2:000000000000:cluster/podwarden"

# the error each family gives a credential scope for the wrong service or region
SCOPE_ERRORS = {
    "sagemaker": "InvalidSignatureException",
    "eks": "InvalidSignatureException",
    "iam": "SignatureDoesNotMatch",
    "sts": "SignatureDoesNotMatch",
    "ec2": "SignatureDoesNotMatch",
    "s3": "AuthorizationHeaderMalformed",
}


@pytest.mark.parametrize("service", sorted(FAMILIES))
def test_the_right_signature_is_accepted(aws: AwsServer, service: str) -> None:
    req = FAMILIES[service]()
    url, headers = sign(aws, req)
    assert send(url, headers, req.body, req.method).status_code == 200


@pytest.mark.parametrize("service", sorted(FAMILIES))
def test_a_region_that_does_not_exist_is_refused(aws: AwsServer, service: str) -> None:
    req = FAMILIES[service]()
    url, headers = sign(aws, req, region="xx-nowhere-9")
    resp = send(url, headers, req.body, req.method)
    assert parsed_error(service, req.operation, resp)[1] == SCOPE_ERRORS[service]
    assert "region" in resp.text


def test_sagemaker_refuses_every_other_services_scope(aws: AwsServer) -> None:
    """X-Amz-Target routes to SageMaker whatever the scope says: the scope must say sagemaker."""
    for other in ("ec2", "s3", "sts", "eks", "iam", "madeup"):
        url, headers = sign(aws, sagemaker_list(), scope_service=other)
        resp = send(url, headers, b"{}")
        assert parsed_error("sagemaker", "ListClusters", resp) == (
            400,
            "InvalidSignatureException",
        ), other
        assert "Credential should be scoped to correct service: 'sagemaker'" in resp.text


@pytest.mark.parametrize("service", ["eks", "iam", "sts", "ec2", "s3"])
def test_a_target_header_cannot_redirect_another_services_signature(
    aws: AwsServer, service: str
) -> None:
    """A request signed for ``service`` with ``X-Amz-Target: SageMaker.*`` added is SageMaker's,
    and SageMaker refuses a signature scoped to anything else."""
    req = FAMILIES[service]()
    url, headers = sign(aws, req, extra={"X-Amz-Target": "SageMaker.ListClusters"})
    resp = send(url, headers, req.body, req.method)
    assert parsed_error("sagemaker", "ListClusters", resp)[1] in ("InvalidSignatureException",)


def test_an_unsigned_target_header_is_refused(aws: AwsServer) -> None:
    req = sagemaker_list()
    del req.headers["X-Amz-Target"]
    url, headers = sign(aws, req, extra={"X-Amz-Target": "SageMaker.ListClusters"})
    resp = send(url, headers, b"{}")
    assert parsed_error("sagemaker", "ListClusters", resp) == (400, "InvalidSignatureException")
    assert "'X-Amz-Target' must be a 'SignedHeader'" in resp.text


def test_a_made_up_service_gets_a_clean_refusal(aws: AwsServer) -> None:
    """Scopes naming services podwarden does not serve: the client's own protocol when podwarden
    speaks one its model lists, else awsJson; never a 5xx."""
    cases = [
        ("sns", "ListTopics", form("sns", "ListTopics", "2010-03-31"), "InvalidAction"),
        (
            "acm-pca",
            "ListCertificateAuthorities",
            Req(  # as botocore's Smithy RPC v2 CBOR client sends it
                "acm-pca",
                "ListCertificateAuthorities",
                "POST",
                "/service/ACMPrivateCA/operation/ListCertificateAuthorities",
                b"\xa0",
                {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"},
            ),
            "UnknownOperationException",
        ),
        ("zzz-none", None, None, "UnknownOperationException"),
    ]
    for name, operation, given, code in cases:
        req = given or Req(name, operation or "", "POST", "/", b"{}", {"Content-Type": JSON_CT})
        url, headers = sign(aws, req)
        resp = send(url, headers, req.body, req.method)
        assert 400 <= resp.status_code < 500, (name, resp.status_code, resp.text)
        if operation is not None:
            assert parsed_error(name, operation, resp)[1] == code
        else:
            assert resp.json()["__type"] == code


@pytest.mark.parametrize("service", ["sagemaker", "eks", "iam", "sts", "ec2"])
def test_an_unsigned_payload_authorizes_nothing_outside_s3(aws: AwsServer, service: str) -> None:
    req = FAMILIES[service]()
    req.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    url, headers = sign(aws, req)
    resp = send(url, headers, req.body, req.method)
    status, _ = parsed_error(service, req.operation, resp)
    assert status in (400, 403)


def test_an_s3_unsigned_payload_cannot_carry_a_create_cluster(aws: AwsServer) -> None:
    body = json.dumps({"ClusterName": "smuggled"}).encode()
    req = Req("s3", "PutObject", "POST", "/", body, {"Content-Type": JSON_CT})
    url, headers = sign(aws, req, extra={"X-Amz-Target": "SageMaker.CreateCluster"})
    headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    resp = send(url, headers, body)
    assert parsed_error("sagemaker", "CreateCluster", resp)[1] == "InvalidSignatureException"
    assert aws.client("sagemaker").list_clusters()["ClusterSummaries"] == []


def _presigned(server: AwsServer, service: str, method: str, path: str, query: str = "") -> str:
    url = server.endpoint + path + (f"?{query}" if query else "")
    aws_req = AWSRequest(method=method, url=url)
    creds = Credentials(CRED.access_key_id, CRED.secret_access_key)
    auth = S3SigV4QueryAuth if service == "s3" else SigV4QueryAuth
    auth(creds, service, REGION, expires=60).add_auth(aws_req)
    return str(aws_req.url)


@pytest.fixture
def cluster(aws: AwsServer) -> Iterator[str]:
    sm = aws.client("sagemaker")
    iam = aws.client("iam")
    role = iam.create_role(
        RoleName="binding-exec", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST_POLICY)
    )["Role"]["Arn"]
    sm.create_cluster(
        ClusterName="keepme",
        Orchestrator={"Eks": {"ClusterArn": EKS_ARN}},
        InstanceGroups=[
            {
                "InstanceGroupName": "g",
                "InstanceType": "ml.c5.xlarge",
                "InstanceCount": 1,
                "ExecutionRole": role,
                "LifeCycleConfig": {
                    "SourceS3Uri": "s3://sagemaker-binding/lc/",
                    "OnCreate": "on_create.sh",
                },
            }
        ],
    )
    yield "keepme"
    sm.delete_cluster(ClusterName="keepme")
    iam.delete_role(RoleName="binding-exec")


def test_a_presigned_s3_url_cannot_delete_a_cluster(aws: AwsServer, cluster: str) -> None:
    url = _presigned(aws, "s3", "GET", "/some-bucket/some-key")
    body = json.dumps({"ClusterName": cluster}).encode()
    for method in ("GET", "POST"):
        headers = {"X-Amz-Target": "SageMaker.DeleteCluster", "Content-Type": JSON_CT}
        resp = send(url, headers, body, method)
        assert parsed_error("sagemaker", "DeleteCluster", resp)[1] == "InvalidSignatureException"
    sm = aws.client("sagemaker")
    assert sm.describe_cluster(ClusterName=cluster)["ClusterStatus"] != "Deleting"


def test_an_eks_bearer_token_is_no_sagemaker_credential(aws: AwsServer) -> None:
    """A presigned STS GetCallerIdentity URL is exactly the EKS token any pod may hold."""
    url = _presigned(aws, "sts", "GET", "/", "Action=GetCallerIdentity&Version=2011-06-15")
    assert send(url, {}, b"", "GET").status_code == 200  # what it was made for
    headers = {"X-Amz-Target": "SageMaker.ListClusters", "Content-Type": JSON_CT}
    resp = send(url, headers, b"{}")
    assert parsed_error("sagemaker", "ListClusters", resp)[1] == "InvalidSignatureException"
    # nor can a body turn it into another STS or IAM action
    other = urlencode({"Action": "AssumeRole", "Version": "2011-06-15"}).encode()
    for unsigned in ({}, {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}):
        resp = send(url, {"Content-Type": FORM_CT, **unsigned}, other)
        assert parsed_error("sts", "AssumeRole", resp)[1] == "SignatureDoesNotMatch"


# a session token sent with long-term keys: each family's "invalid token" answer
TOKEN_ERRORS = {
    "sagemaker": "UnrecognizedClientException",
    "eks": "UnrecognizedClientException",
    "iam": "InvalidClientTokenId",
    "sts": "InvalidClientTokenId",
    "ec2": "AuthFailure",
    "s3": "InvalidToken",
}


@pytest.mark.parametrize("service", sorted(FAMILIES))
def test_long_term_keys_with_a_session_token_are_refused(aws: AwsServer, service: str) -> None:
    req = FAMILIES[service]()
    url, headers = sign(aws, req, token="FwoGZXIvYXdzEMadeUpToken")
    resp = send(url, headers, req.body, req.method)
    assert parsed_error(service, req.operation, resp)[1] == TOKEN_ERRORS[service]


EXPIRED_ERRORS = {
    "sagemaker": "ExpiredTokenException",
    "eks": "ExpiredTokenException",
    "iam": "ExpiredToken",
    "sts": "ExpiredToken",
    "ec2": "RequestExpired",
    "s3": "ExpiredToken",
}


def test_an_expired_session_answers_expired_token(aws: AwsServer) -> None:
    iam = aws.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName="expiring", AssumeRolePolicyDocument=json.dumps(trust))
    creds = aws.client("sts").assume_role(
        RoleArn=role["Role"]["Arn"], RoleSessionName="sess", DurationSeconds=900
    )["Credentials"]
    session = {
        "key": creds["AccessKeyId"],
        "secret": creds["SecretAccessKey"],
        "token": creds["SessionToken"],
    }
    for service, make in FAMILIES.items():  # live: accepted
        req = make()
        url, headers = sign(aws, req, **session)
        assert send(url, headers, req.body, req.method).status_code == 200, service
    rec = aws.store.resources.get(SESSION, SCOPE, creds["AccessKeyId"])
    assert rec is not None
    rec.doc["Expiration"] = time.time() - 1
    aws.store.resources.save(rec)
    for service, make in FAMILIES.items():  # expired: each family's own answer, every time
        for _ in range(2):
            req = make()
            url, headers = sign(aws, req, **session)
            resp = send(url, headers, req.body, req.method)
            assert parsed_error(service, req.operation, resp)[1] == EXPIRED_ERRORS[service]


def test_s3_sigv2_works_for_s3_and_nothing_else(aws: AwsServer) -> None:
    """boto3's SigV2 (``signature_version='s3'``, what ``generate_presigned_url`` gives unless
    told otherwise): header-signed calls and presigned URLs work for S3; the same signature with
    ``X-Amz-Target`` added, or sent to IAM, authorizes nothing."""
    s3 = aws.client("s3", signature_version="s3")
    s3.create_bucket(
        Bucket="sigv2-bucket", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    s3.put_object(Bucket="sigv2-bucket", Key="a b+c.txt", Body=b"v2 body")
    assert s3.get_object(Bucket="sigv2-bucket", Key="a b+c.txt")["Body"].read() == b"v2 body"
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "sigv2-bucket", "Key": "a b+c.txt"}, ExpiresIn=60
    )
    assert "Signature=" in url and "X-Amz-Signature" not in url
    got = send(url, {}, b"", "GET")
    assert got.status_code == 200 and got.content == b"v2 body"
    headers = {"X-Amz-Target": "SageMaker.ListClusters", "Content-Type": JSON_CT}
    resp = send(url, headers, b"{}")
    assert (
        parsed_error("sagemaker", "ListClusters", resp)[1] == "MissingAuthenticationTokenException"
    )
    body = urlencode({"Action": "ListRoles", "Version": "2010-05-08"}).encode()
    resp = send(url.replace("/sigv2-bucket/a%20b%2Bc.txt", "/"), {"Content-Type": FORM_CT}, body)
    assert resp.status_code in (400, 403), resp.text  # an S3 request now, and its signature fails


def test_sigv2_on_a_query_service_is_refused_in_its_format(aws: AwsServer) -> None:
    """SigV2 names no service: an IAM form is IAM's, and IAM (SigV4 only) refuses it in XML
    its client reads, rather than S3 answering."""
    req = form("iam", "ListRoles", "2010-05-08")
    headers = {
        "Content-Type": FORM_CT,
        "Authorization": f"AWS {CRED.access_key_id}:c2lnbmF0dXJl",
        "Date": "Sat, 05 Dec 2026 20:00:00 GMT",
    }
    resp = send(aws.endpoint + "/", headers, req.body)
    assert parsed_error("iam", "ListRoles", resp) == (403, "MissingAuthenticationToken")


def test_a_head_request_runs_no_query_action(aws: AwsServer) -> None:
    iam = aws.client("iam")
    iam.create_role(
        RoleName="head-victim", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST_POLICY)
    )
    req = form("iam", "DeleteRole", "2010-05-08", RoleName="head-victim")
    req.method = "HEAD"
    url, headers = sign(aws, req)
    resp = send(url, headers, req.body, "HEAD")
    assert resp.status_code == 400
    assert iam.get_role(RoleName="head-victim")["Role"]["RoleName"] == "head-victim"
    iam.delete_role(RoleName="head-victim")


def test_a_query_version_in_a_rest_path_does_not_reroute(aws: AwsServer) -> None:
    """Query APIs are called at ``/``: ``Version``/``Action`` added to an EKS call's query string
    leave it EKS's (signed for eks, answered by EKS)."""
    req = Req("eks", "ListClusters", "GET", "/clusters?Version=2010-05-08&Action=ListRoles")
    url, headers = sign(aws, req)
    resp = send(url, headers, b"", "GET")
    assert resp.status_code == 200 and "clusters" in resp.json()
