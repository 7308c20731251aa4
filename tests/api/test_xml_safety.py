"""Characters XML 1.0 cannot carry, sent by boto3 over real HTTP (issue 17, item 3): errors that
echo them still parse, EC2 refuses to store them (and stores nothing), so that no client's
DescribeSecurityGroups / DescribeVpcs is made unparseable, and S3 keys holding them list back
exactly with ``EncodingType=url`` (U+FFFD in their place without it)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.api.aws_server import AwsServer

REPLACEMENT = "\ufffd"


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def message(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Message"])


def test_iam_error_echoing_a_nul_parses(aws: AwsServer) -> None:
    iam = aws.client("iam")
    with pytest.raises(ClientError) as err:
        iam.list_roles(PathPrefix="/\x00")
    assert code(err) == "ValidationError"
    assert f"Value '/{REPLACEMENT}' at 'pathPrefix' failed to satisfy constraint" in message(err)
    assert "\x00" not in message(err)
    assert "Roles" in iam.list_roles()  # and the server answers on


def test_s3_multipart_listing_echoing_a_control_character_parses(aws: AwsServer) -> None:
    s3 = aws.client("s3", s3={"addressing_style": "path"})
    s3.create_bucket(
        Bucket="xml-safety", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    s3.create_multipart_upload(Bucket="xml-safety", Key="k\x01ey")
    try:
        out = s3.list_multipart_uploads(Bucket="xml-safety", UploadIdMarker="\x01")
    except ClientError as exc:  # an error is as good, as long as botocore could read it
        assert exc.response["Error"]["Code"] != "400", exc.response
    else:
        assert out["UploadIdMarker"] == REPLACEMENT
    out = s3.list_multipart_uploads(Bucket="xml-safety")
    assert [u["Key"] for u in out["Uploads"]] == [f"k{REPLACEMENT}ey"]
    encoded = s3.list_multipart_uploads(Bucket="xml-safety", EncodingType="url")
    assert [u["Key"] for u in encoded["Uploads"]] == ["k%01ey"]  # botocore leaves these encoded


def test_s3_keys_with_control_characters_list_back_exactly(aws: AwsServer) -> None:
    """botocore asks ListObjects(V2) for EncodingType=url and decodes the keys."""
    s3 = aws.client("s3", s3={"addressing_style": "path"})
    s3.create_bucket(
        Bucket="xml-safety-keys", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    key = "dir\x01/a\x1fb\x7f"
    s3.put_object(Bucket="xml-safety-keys", Key=key, Body=b"x")
    listed = s3.list_objects_v2(Bucket="xml-safety-keys")
    assert [o["Key"] for o in listed["Contents"]] == [key]
    v1 = s3.list_objects(Bucket="xml-safety-keys", Delimiter="/")
    assert [p["Prefix"] for p in v1["CommonPrefixes"]] == ["dir\x01/"]
    assert s3.get_object(Bucket="xml-safety-keys", Key=key)["Body"].read() == b"x"


def test_ec2_refuses_what_would_make_describes_unparseable(aws: AwsServer) -> None:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.171.0.0/16")["Vpc"]["VpcId"]
    with pytest.raises(ClientError) as err:
        ec2.create_security_group(GroupName="xml-sg", Description="a\x01b", VpcId=vpc)
    assert code(err) == "InvalidParameterValue"
    assert message(err).startswith("Invalid security group description.")
    with pytest.raises(ClientError) as err:
        ec2.create_security_group(
            GroupName="xml-sg",
            Description="ok",
            VpcId=vpc,
            TagSpecifications=[
                {"ResourceType": "security-group", "Tags": [{"Key": "k", "Value": "a\x02b"}]}
            ],
        )
    assert code(err) == "InvalidParameterValue"
    assert "U+0002" in message(err) and "\x02" not in message(err)
    with pytest.raises(ClientError) as err:
        ec2.create_tags(Resources=[vpc], Tags=[{"Key": "k\x03", "Value": "v"}])
    assert code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.create_vpc(
            CidrBlock="10.172.0.0/16",
            TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "k", "Value": "\x1f"}]}],
        )
    assert code(err) == "InvalidParameterValue"
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    assert [g["GroupName"] for g in groups["SecurityGroups"]] == ["default"]
    vpcs = ec2.describe_vpcs()["Vpcs"]
    assert "10.172.0.0/16" not in {v["CidrBlock"] for v in vpcs}
    assert all("Tags" not in v for v in vpcs if v["VpcId"] == vpc)


def test_ec2_stores_and_returns_what_xml_can_carry(aws: AwsServer) -> None:
    ec2 = aws.client("ec2")
    value = "tab\tline\nreturn\r & <é> \U0001f600"
    vpc = ec2.create_vpc(
        CidrBlock="10.173.1.0/16",  # host bits set: normalized, as EC2 does
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "k", "Value": value}]}],
    )["Vpc"]
    assert vpc["CidrBlock"] == "10.173.0.0/16"
    (described,) = ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"]
    assert described["Tags"] == [{"Key": "k", "Value": value}]
