"""Helpers shared by tests."""

from glue_pipes_project.local_aws import LocalAWS
from glue_pipes_project.settings import Settings


def local_settings(aws: LocalAWS, **overrides: str) -> Settings:
    """Settings as a user in local mode gets them, aimed at the test session's endpoint."""
    return Settings.from_env({"GLUE_PIPES_ENDPOINT_URL": aws.endpoint_url, **overrides})
