"""The clients of glue_pipes_project.aws: one parsed copy of botocore's data per process."""

from glue_pipes_project import aws
from glue_pipes_project.aws import AwsClients
from tests.helpers import local_settings


def test_connecting_again_reuses_the_parsed_models_and_keeps_the_search_path_bounded(local_aws):
    settings = local_settings(local_aws)
    AwsClients.connect(settings)
    paths = list(aws._LOADER.search_paths)
    models = aws._LOADER.load_service_model("glue", "service-2")
    for _ in range(3):
        clients = AwsClients.connect(settings)
    # boto3 adds its data directory to the loader of every session it wraps: once is enough.
    assert aws._LOADER.search_paths == paths
    assert aws._LOADER.load_service_model("glue", "service-2") is models
    assert clients.glue.meta.service_model.service_name == "glue"
    assert clients.s3.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
