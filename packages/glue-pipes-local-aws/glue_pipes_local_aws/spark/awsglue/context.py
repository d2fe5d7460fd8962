"""`GlueContext` over a plain SparkSession: S3 and Data Catalog sources and sinks through boto3."""

import shutil
import sys
import tempfile
import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pyspark import SparkContext
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from . import _catalog, _s3
from ._bookmarks import Bookmarks
from .dynamicframe import DynamicFrame, DynamicFrameReader, DynamicFrameWriter

# Glue's S3 format options and Spark's names for them; options not listed are Glue-only and ignored.
_READ_OPTIONS = {
    "json": {"multiline": "multiLine", "multiLine": "multiLine"},
    "csv": {
        "withHeader": "header",
        "separator": "sep",
        "quoteChar": "quote",
        "escaper": "escape",
        "multiline": "multiLine",
        "multiLine": "multiLine",
    },
    "parquet": {},
}
_WRITE_OPTIONS = {
    "json": {"compression": "compression"},
    "csv": {"writeHeader": "header", "separator": "sep", "quoteChar": "quote", "compression": "compression"},
    "parquet": {"compression": "compression"},
}


class GlueLogger:
    """Glue's driver logger: log4j-style lines on stderr (Glue's driver log)."""

    def _log(self, level: str, message: object) -> None:
        stamp = time.strftime("%y/%m/%d %H:%M:%S")
        print(f"{stamp} {level} GlueLogger: {message}", file=sys.stderr, flush=True)

    def info(self, message: object) -> None:
        self._log("INFO", message)

    def warn(self, message: object) -> None:
        self._log("WARN", message)

    def error(self, message: object) -> None:
        self._log("ERROR", message)


class GlueContext:
    def __init__(self, sparkContext: SparkContext | SparkSession | None = None, **options: Any) -> None:  # noqa: N803
        # The script's context, else the running one: never a second JVM. Its conf is the environment's
        # (GLUE_PIPES_SPARK_CONF, applied when awsglue was imported).
        if isinstance(sparkContext, SparkSession):
            self.spark_session = sparkContext
        else:
            if sparkContext is None:
                SparkContext.getOrCreate()
            self.spark_session = SparkSession.builder.getOrCreate()
        self.sparkSession = self.spark_session
        self._sc = self.spark_session.sparkContext
        self.create_dynamic_frame = DynamicFrameReader(self)
        self.write_dynamic_frame = DynamicFrameWriter(self)
        self._logger = GlueLogger()
        # Set by Job.init(); reads before it (or without a Job) are not bookmarked, as on Glue.
        self._bookmarks: Bookmarks | None = None
        # Spark reads S3 objects lazily from local copies, so they live as long as this context.
        self._staging = Path(tempfile.mkdtemp(prefix="awsglue-"))
        weakref.finalize(self, shutil.rmtree, self._staging, True)

    def get_logger(self) -> GlueLogger:
        return self._logger

    # Sources ---------------------------------------------------------------------------------------

    def create_dynamic_frame_from_options(
        self,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,  # noqa: A002 (Glue's name)
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        push_down_predicate: str = "",
        **kwargs: Any,
    ) -> DynamicFrame:
        _require_s3(connection_type)
        options = dict(connection_options or {})
        fmt = _catalog.normal_format(format or "json")
        paths = options.get("paths") or [options["path"]]
        frames = [
            self._read_s3(fmt, path, bool(options.get("recurse", False)), format_options or {}, transformation_ctx)
            for path in ([paths] if isinstance(paths, str) else paths)
        ]
        df = frames[0]
        for other in frames[1:]:
            df = df.unionByName(other, allowMissingColumns=True)
        if push_down_predicate:
            df = df.filter(push_down_predicate)
        return DynamicFrame(df, self, transformation_ctx)

    def create_dynamic_frame_from_catalog(
        self,
        database: str,
        table_name: str,
        redshift_tmp_dir: str = "",
        transformation_ctx: str = "",
        push_down_predicate: str = "",
        additional_options: Mapping[str, Any] | None = None,
        catalog_id: str | None = None,
        **kwargs: Any,
    ) -> DynamicFrame:
        """The table's files in the catalog's schema, partition columns included; with a
        push_down_predicate, only the partitions it selects (GetPartitions' Expression)."""
        glue, s3 = _catalog.client(), _s3.client()
        table = _catalog.get_table(glue, database, table_name)
        fmt = _catalog.table_format(table)
        keys = table.get("PartitionKeys", [])
        schema = _catalog.ddl([*table["StorageDescriptor"]["Columns"], *keys])
        root = self._staging / uuid.uuid4().hex
        if keys:
            # Local folders laid out as Hive partitions, so Spark adds the partition columns.
            folders = {
                "/".join(
                    f"{key['Name']}={quote(value, safe='')}" for key, value in zip(keys, part["Values"], strict=True)
                ): part["StorageDescriptor"]["Location"]
                for part in _catalog.partitions(glue, database, table_name, push_down_predicate)
            }
        else:
            folders = {"": table["StorageDescriptor"]["Location"]}
        local = []
        for folder, location in folders.items():
            files = self._unread(transformation_ctx, _s3.list_files(s3, location))
            local += _s3.download(s3, files, _s3.split(location)[1], root / folder)
        return DynamicFrame(self._load(fmt, local, root, {}, schema), self, transformation_ctx)

    def _read_s3(
        self, fmt: str, path: str, recurse: bool, format_options: Mapping[str, Any], transformation_ctx: str
    ) -> DataFrame:
        s3 = _s3.client()
        files = self._unread(transformation_ctx, _s3.list_files(s3, path, recurse))
        root = self._staging / uuid.uuid4().hex
        prefix = _s3.split(path)[1]
        return self._load(fmt, _s3.download(s3, files, prefix.rstrip("/") + "/", root), root, format_options)

    def _unread(self, transformation_ctx: str, files: Sequence[_s3.S3File]) -> list[_s3.S3File]:
        return list(files) if self._bookmarks is None else self._bookmarks.unread(transformation_ctx, files)

    def _load(
        self, fmt: str, paths: list[str], root: Path, format_options: Mapping[str, Any], schema: str | None = None
    ) -> DataFrame:
        if not paths:
            # Nothing (new) to read: an empty frame, with the catalog's schema when there is one.
            return self.spark_session.createDataFrame([], schema or StructType([]))
        reader = self.spark_session.read.format(fmt).option("basePath", str(root))
        if fmt == "csv":
            reader = reader.option("inferSchema", "true")
        for name, value in format_options.items():
            if name in _READ_OPTIONS[fmt]:
                reader = reader.option(
                    _READ_OPTIONS[fmt][name], str(value).lower() if isinstance(value, bool) else value
                )
        if schema:
            reader = reader.schema(schema)
        df = reader.load(paths)
        if fmt == "csv" and not format_options.get("withHeader"):
            # Glue names header-less CSV columns col0, col1, ...; Spark names them _c0, _c1, ...
            df = df.toDF(*(name.replace("_c", "col", 1) if name.startswith("_c") else name for name in df.columns))
        return df

    # Sinks -----------------------------------------------------------------------------------------

    def write_dynamic_frame_from_options(
        self,
        frame: DynamicFrame,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,  # noqa: A002 (Glue's name)
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
    ) -> DynamicFrame:
        _require_s3(connection_type)
        options = dict(connection_options or {})
        fmt = _catalog.normal_format(format or "json")
        self._write_s3(frame.toDF(), options["path"], fmt, options.get("partitionKeys", []), format_options or {})
        return frame

    def write_dynamic_frame_from_catalog(
        self,
        frame: DynamicFrame,
        database: str,
        table_name: str,
        redshift_tmp_dir: str = "",
        transformation_ctx: str = "",
        additional_options: Mapping[str, Any] | None = None,
        catalog_id: str | None = None,
    ) -> DynamicFrame:
        """Write to the table's location in its format; with enableUpdateCatalog, register new partitions
        (and with updateBehavior UPDATE_IN_DATABASE, the frame's schema)."""
        options = dict(additional_options or {})
        glue = _catalog.client()
        table = _catalog.get_table(glue, database, table_name)
        keys = options.get("partitionKeys") or [key["Name"] for key in table.get("PartitionKeys", [])]
        sink = DataSink(self, table["StorageDescriptor"]["Location"], keys, options)
        sink.setCatalogInfo(database, table_name)
        sink.setFormat(_catalog.table_format(table))
        return sink.writeFrame(frame)

    def getSink(  # noqa: N802 (Glue's name)
        self,
        connection_type: str,
        format: str | None = None,
        transformation_ctx: str = "",
        **options: Any,  # noqa: A002
    ) -> "DataSink":
        _require_s3(connection_type)
        sink = DataSink(self, options.pop("path"), options.pop("partitionKeys", []), options)
        if format:
            sink.setFormat(format)
        return sink

    def _write_s3(
        self, df: DataFrame, path: str, fmt: str, partition_keys: Sequence[str], format_options: Mapping[str, Any]
    ) -> list[str]:
        """Write with Spark to a local folder, upload its data files under `path`; their relative paths."""
        out = Path(tempfile.mkdtemp(prefix="awsglue-write-", dir=self._staging)) / "out"
        try:
            writer = df.write.mode("overwrite").format(fmt)
            if fmt == "csv":
                writer = writer.option("header", "true")
            for name, value in format_options.items():
                if name in _WRITE_OPTIONS[fmt]:
                    writer = writer.option(_WRITE_OPTIONS[fmt][name], value)
            if partition_keys:
                writer = writer.partitionBy(*partition_keys)
            writer.save(str(out))
            return _s3.upload(_s3.client(), out, path)
        finally:
            shutil.rmtree(out.parent, ignore_errors=True)

    def purge_s3_path(
        self, s3_path: str, options: Mapping[str, Any] | None = None, transformation_ctx: str = ""
    ) -> None:
        """Delete the objects under `s3_path` older than options["retentionPeriod"] hours (default 168)."""
        hours = float((options or {}).get("retentionPeriod", 168))
        _s3.delete_older_than(_s3.client(), s3_path, time.time() - hours * 3600)


class DataSink:
    """An S3 sink (GlueContext.getSink); with enableUpdateCatalog it creates or updates the catalog table
    set by setCatalogInfo and adds the partitions it wrote, as Glue does."""

    def __init__(
        self, glue_context: GlueContext, path: str, partition_keys: Sequence[str], options: Mapping[str, Any]
    ) -> None:
        self._glue_context = glue_context
        self._path = path
        self._partition_keys = list(partition_keys)
        self._update_catalog = bool(options.get("enableUpdateCatalog", False))
        self._update_behavior = options.get("updateBehavior", _catalog.UPDATE_IN_DATABASE)
        self._format = "json"
        self._format_options: dict[str, Any] = {}
        self._catalog: tuple[str, str] | None = None

    def setFormat(self, format: str, **options: Any) -> None:  # noqa: N802, A002 (Glue's names)
        self._format = _catalog.normal_format(format)
        self._format_options = options

    def setCatalogInfo(self, catalogDatabase: str, catalogTableName: str, catalogId: str | None = None) -> None:  # noqa: N802, N803
        self._catalog = (catalogDatabase, catalogTableName)

    def writeFrame(self, dynamic_frame: DynamicFrame, info: str = "") -> DynamicFrame:  # noqa: N802
        df = dynamic_frame.toDF()
        written = self._glue_context._write_s3(df, self._path, self._format, self._partition_keys, self._format_options)
        if self._update_catalog:
            if self._catalog is None:
                raise ValueError("enableUpdateCatalog needs the table: call setCatalogInfo(database, table) first")
            database, table_name = self._catalog
            schema = {field.name: field.dataType.simpleString() for field in df.schema.fields}
            glue = _catalog.client()
            table = _catalog.ensure_table(
                glue,
                database,
                table_name,
                self._path,
                self._format,
                [{"Name": n, "Type": t} for n, t in schema.items() if n not in self._partition_keys],
                [{"Name": key, "Type": schema[key]} for key in self._partition_keys],
                self._update_behavior,
            )
            _catalog.add_partitions(glue, database, table, self._path, _s3.partitions(written))
        return dynamic_frame

    write = writeFrame


def _require_s3(connection_type: str) -> None:
    if connection_type.lower() != "s3":
        raise NotImplementedError(f"connection_type {connection_type!r}: the local awsglue reads and writes S3 only")
