"""lakehouse/aws.py without an AWS API: settings, URIs, the environment, and which API a run uses."""

import os

import pytest

from lakehouse.aws import aws_api, environment, s3_lake_settings, split_s3_uri


def test_an_endpoint_without_credentials_says_what_to_set(tmp_path, monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    settings = s3_lake_settings("bucket", "lake", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(RuntimeError, match="no credentials are: set AWS_ACCESS_KEY_ID"), aws_api(settings):
        pass


def test_s3_lake_settings_and_uris(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    settings = s3_lake_settings("bucket", "/lake/")
    assert settings.root == "s3://bucket/lake" and settings.aws_region == "eu-west-1"
    assert settings.aws_endpoint_url is None
    assert s3_lake_settings("bucket", region="us-east-2").root == "s3://bucket"
    assert split_s3_uri("s3://bucket/lake/raw/shop") == ("bucket", "lake/raw/shop")
    with pytest.raises(ValueError, match="not an s3:// URI"):
        split_s3_uri("/tmp/lake")


def test_environment_is_restored(monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_TEST_KEEP", "before")
    monkeypatch.delenv("LAKEHOUSE_TEST_NEW", raising=False)
    with environment({"LAKEHOUSE_TEST_KEEP": "during", "LAKEHOUSE_TEST_NEW": "x"}):
        assert os.environ["LAKEHOUSE_TEST_KEEP"] == "during"
    assert os.environ["LAKEHOUSE_TEST_KEEP"] == "before" and "LAKEHOUSE_TEST_NEW" not in os.environ
