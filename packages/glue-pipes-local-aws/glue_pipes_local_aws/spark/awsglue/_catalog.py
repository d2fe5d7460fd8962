"""The Data Catalog through boto3's glue client: tables and partitions as Glue's S3 sinks write them."""

from collections.abc import Mapping, Sequence
from typing import Any

import boto3

# What Glue's crawlers and sinks record for each format: (InputFormat, OutputFormat, SerDe).
_FORMATS = {
    "parquet": (
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    ),
    "json": (
        "org.apache.hadoop.mapred.TextInputFormat",
        "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "org.openx.data.jsonserde.JsonSerDe",
    ),
    "csv": (
        "org.apache.hadoop.mapred.TextInputFormat",
        "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
    ),
}
UPDATE_IN_DATABASE, LOG = "UPDATE_IN_DATABASE", "LOG"


def client() -> Any:
    return boto3.client("glue")


def normal_format(fmt: str) -> str:
    """Glue's format name to Spark's: glueparquet is Glue's own Parquet writer."""
    name = fmt.lower()
    name = "parquet" if name == "glueparquet" else name
    if name not in _FORMATS:
        raise ValueError(f"format {fmt!r} is not supported locally; use one of {', '.join(_FORMATS)}")
    return name


def get_table(glue: Any, database: str, table_name: str) -> dict[str, Any]:
    return glue.get_table(DatabaseName=database, Name=table_name)["Table"]


def table_format(table: Mapping[str, Any]) -> str:
    """The format of a catalog table: its `classification`, else recognised from its SerDe."""
    classification = table.get("Parameters", {}).get("classification")
    if classification:
        return normal_format(classification)
    serde = table["StorageDescriptor"].get("SerdeInfo", {}).get("SerializationLibrary", "")
    for name, (_, _, library) in _FORMATS.items():
        if library == serde:
            return name
    raise ValueError(f"table {table['Name']}: cannot tell its format (no classification parameter, SerDe {serde!r})")


def ddl(columns: Sequence[Mapping[str, str]]) -> str:
    """A Spark DDL schema from catalog columns (Hive type names, which Spark's DDL parser reads)."""
    return ", ".join(f"`{column['Name']}` {column['Type']}" for column in columns)


def storage_descriptor(location: str, fmt: str, columns: list[dict[str, str]]) -> dict[str, Any]:
    input_format, output_format, serde = _FORMATS[fmt]
    return {
        "Columns": columns,
        "Location": location,
        "InputFormat": input_format,
        "OutputFormat": output_format,
        "SerdeInfo": {"SerializationLibrary": serde},
        "Compressed": fmt == "parquet",
    }


def ensure_table(
    glue: Any,
    database: str,
    table_name: str,
    location: str,
    fmt: str,
    columns: list[dict[str, str]],
    partition_keys: list[dict[str, str]],
    update_behavior: str,
) -> dict[str, Any]:
    """Create the table if missing; with UPDATE_IN_DATABASE, give an existing one the frame's schema."""
    table_input: dict[str, Any] = {
        "Name": table_name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": fmt},
        "StorageDescriptor": storage_descriptor(location, fmt, columns),
        "PartitionKeys": partition_keys,
    }
    try:
        table = get_table(glue, database, table_name)
    except glue.exceptions.EntityNotFoundException:
        glue.create_table(DatabaseName=database, TableInput=table_input)
        return get_table(glue, database, table_name)
    if update_behavior == UPDATE_IN_DATABASE:
        kept = {"Location": table["StorageDescriptor"]["Location"]}
        table_input["StorageDescriptor"] = {**table_input["StorageDescriptor"], **kept}
        glue.update_table(DatabaseName=database, TableInput=table_input)
        return get_table(glue, database, table_name)
    return table


def add_partitions(
    glue: Any, database: str, table: Mapping[str, Any], location: str, partitions: Mapping[str, Mapping[str, str]]
) -> None:
    """Register partitions (folder under `location` -> values) with BatchCreatePartition, as Glue's sink
    does; existing ones are left as they are."""
    keys = [key["Name"] for key in table.get("PartitionKeys", [])]
    descriptor = table["StorageDescriptor"]
    location = location.rstrip("/")
    inputs = [
        {
            "Values": [values[key] for key in keys],
            "StorageDescriptor": {**descriptor, "Location": f"{location}/{folder}/"},
        }
        for folder, values in partitions.items()
    ]
    for start in range(0, len(inputs), 100):
        response = glue.batch_create_partition(
            DatabaseName=database, TableName=table["Name"], PartitionInputList=inputs[start : start + 100]
        )
        failed = [e for e in response.get("Errors", []) if e["ErrorDetail"]["ErrorCode"] != "AlreadyExistsException"]
        if failed:
            raise RuntimeError(f"BatchCreatePartition on {database}.{table['Name']} failed: {failed}")


def partitions(glue: Any, database: str, table_name: str, expression: str) -> list[dict[str, Any]]:
    """The table's partitions that `expression` (a push_down_predicate) selects; all if it is empty."""
    extra = {"Expression": expression} if expression else {}
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table_name, **extra)
    return [partition for page in pages for partition in page["Partitions"]]
