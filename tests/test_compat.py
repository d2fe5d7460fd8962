"""What the project takes from dagster's private modules is still there (an upgrade that moves it fails here)."""

import dagster as dg

from glue_pipes_project import dagster_compat


def test_configurable_resource_factory_is_still_the_base_of_configurable_resource():
    assert issubclass(dg.ConfigurableResource, dagster_compat.ConfigurableResourceFactory)
    assert callable(dagster_compat.ConfigurableResourceFactory.create_resource)


def test_the_package_imports_no_other_private_dagster_module():
    from pathlib import Path

    package = Path(dagster_compat.__file__).parent
    offenders = [
        f"{path.relative_to(package)}:{number}"
        for path in package.rglob("*.py")
        if path.name != "dagster_compat.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if line.lstrip().startswith(("from dagster._", "import dagster._"))
    ]
    assert offenders == []


def test_moto_still_serves_its_wsgi_app_where_the_endpoint_takes_it():
    from werkzeug.serving import WSGIRequestHandler

    from glue_pipes_local_aws import moto_compat

    app = moto_compat.DomainDispatcherApplication(moto_compat.create_backend_app)
    assert callable(app)
    assert issubclass(moto_compat.MotoRequestHandler, WSGIRequestHandler)


def test_the_step_key_is_still_reachable_from_an_asset_context():
    seen: list[str] = []

    @dg.asset
    def some_asset(context: dg.AssetExecutionContext) -> None:
        seen.append(dagster_compat.step_key(context.op_execution_context))

    assert dg.materialize([some_asset]).success
    assert seen == ["some_asset"]
