"""The Glue facts the project relies on agree with AWS's own API model and with the emulation's copy."""

import boto3

from glue_pipes_local_aws.glue import models
from glue_pipes_project import glue_facts


def _enum(shape: str) -> set[str]:
    model = boto3.session.Session(region_name="us-east-1").client("glue").meta.service_model
    return set(model.shape_for(shape).enum)


def test_states_and_worker_types_exist_in_glues_api_model():
    assert _enum("JobRunState") >= glue_facts.TERMINAL_STATES
    assert set(glue_facts.WORKER_TYPES) <= _enum("WorkerType")


def test_the_emulation_agrees_on_which_states_are_terminal():
    assert models.TERMINAL_STATES == glue_facts.TERMINAL_STATES
    assert _enum("JobRunState") == models.STATES
