"""`DynamicFrame` over a Spark DataFrame.

Glue's DynamicFrame carries per-record schemas and choice types; here every frame has the
DataFrame's single schema (Spark's inference settles conflicting types, e.g. int and string as
string), so resolveChoice's cast/project specs cast and make_cols/make_struct have nothing to split.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StructType

if TYPE_CHECKING:
    from .context import GlueContext


class DynamicFrame:
    def __init__(self, df: DataFrame, glue_ctx: "GlueContext", name: str = "") -> None:
        self._df = df
        self.glue_ctx = glue_ctx
        self.name = name

    @classmethod
    def fromDF(cls, dataframe: DataFrame, glue_ctx: "GlueContext", name: str = "") -> "DynamicFrame":  # noqa: N802
        return cls(dataframe, glue_ctx, name)

    def toDF(self, options: Any = None) -> DataFrame:  # noqa: N802 (Glue's name)
        return self._df

    def _with(self, df: DataFrame) -> "DynamicFrame":
        return DynamicFrame(df, self.glue_ctx, self.name)

    def count(self) -> int:
        return self._df.count()

    def schema(self) -> StructType:
        return self._df.schema

    def printSchema(self) -> None:  # noqa: N802
        self._df.printSchema()

    def show(self, num_rows: int = 20) -> None:
        """The first records as JSON, one a line, as Glue prints them."""
        for line in self._df.toJSON().take(num_rows):
            print(line)

    def getNumPartitions(self) -> int:  # noqa: N802
        return self._df.rdd.getNumPartitions()

    def repartition(self, num_partitions: int, **kwargs: Any) -> "DynamicFrame":
        return self._with(self._df.repartition(num_partitions))

    def coalesce(self, num_partitions: int, shuffle: bool = False, **kwargs: Any) -> "DynamicFrame":
        return self._with(self._df.repartition(num_partitions) if shuffle else self._df.coalesce(num_partitions))

    def errorsCount(self) -> int:  # noqa: N802 (no error records: Spark fails a bad record's read instead)
        return 0

    def apply_mapping(
        self, mappings: Sequence[Sequence[str]], case_sensitive: bool = False, **kwargs: Any
    ) -> "DynamicFrame":
        """(source path, source type, target path, target type) tuples: the frame keeps the targets only.
        Dotted paths reach into structs; dotted targets build them."""
        tree: dict[str, Any] = {}
        for source, _source_type, target, target_type in (tuple(mapping) for mapping in mappings):
            node = tree
            *parents, leaf = target.split(".")
            for parent in parents:
                node = node.setdefault(parent, {})
            node[leaf] = F.col(_quoted(source)).cast(target_type)
        return self._with(self._df.select(*(_build(name, value) for name, value in tree.items())))

    applyMapping = apply_mapping  # noqa: N815 (Glue's alias)

    def select_fields(self, paths: Sequence[str], **kwargs: Any) -> "DynamicFrame":
        return self._with(self._df.select(*(F.col(_quoted(path)).alias(path.split(".")[-1]) for path in paths)))

    def drop_fields(self, paths: Sequence[str], **kwargs: Any) -> "DynamicFrame":
        df = self._df
        for path in paths:
            *parents, leaf = path.split(".")
            if parents:
                top = parents[0]
                df = df.withColumn(top, F.col(top).dropFields(".".join([*parents[1:], leaf])))
            else:
                df = df.drop(leaf)
        return self._with(df)

    def rename_field(self, oldName: str, newName: str, **kwargs: Any) -> "DynamicFrame":  # noqa: N803
        """Renames a top-level field, or a field inside a struct (the new name's last part, same struct)."""
        *parents, leaf = oldName.split(".")
        if not parents:
            return self._with(self._df.withColumnRenamed(leaf, newName))
        top, inner = parents[0], ".".join([*parents[1:], leaf])
        renamed = F.col(top).withField(".".join([*parents[1:], newName.split(".")[-1]]), F.col(_quoted(oldName)))
        return self._with(self._df.withColumn(top, renamed.dropFields(inner)))

    def filter(self, f: Callable[[Any], bool], **kwargs: Any) -> "DynamicFrame":
        """Records for which f(record) is true; as on Glue, a KeyError, ValueError or TypeError from f
        drops the record. Records are dicts (nested structs too) and f runs in Spark's Python workers."""

        def keep(row: Row) -> bool:
            try:
                return bool(f(row.asDict(recursive=True)))
            except (KeyError, ValueError, TypeError):
                return False

        df = self._df
        return self._with(df.sparkSession.createDataFrame(df.rdd.filter(keep), df.schema))

    def resolveChoice(  # noqa: N802 (Glue's name)
        self,
        specs: Sequence[tuple[str, str]] | None = None,
        choice: str = "",
        database: str | None = None,
        table_name: str | None = None,
        **kwargs: Any,
    ) -> "DynamicFrame":
        """specs: (path, "cast:type" | "project:type" | "make_cols" | "make_struct"); or one `choice` for
        every column. Columns have no choice types here (see the module doc), so only casts change them."""
        if specs and choice:
            raise ValueError("resolveChoice takes specs or choice, not both")
        if choice == "match_catalog" or any(action == "match_catalog" for _, action in specs or []):
            raise NotImplementedError("resolveChoice match_catalog is not supported by the local awsglue")
        actions = dict(specs) if specs else dict.fromkeys(self._df.columns, choice)
        df = self._df
        for path, action in actions.items():
            kind, _, type_name = action.partition(":")
            if kind not in ("cast", "project", "make_cols", "make_struct"):
                raise ValueError(f"resolveChoice: unknown action {action!r} for {path!r}")
            if type_name and "." not in path:
                df = df.withColumn(path, F.col(_quoted(path)).cast(type_name))
            elif type_name:
                top, inner = path.split(".", 1)
                df = df.withColumn(top, F.col(top).withField(inner, F.col(_quoted(path)).cast(type_name)))
        return self._with(df)

    def join(
        self, paths1: str | Sequence[str], paths2: str | Sequence[str], frame2: "DynamicFrame", **kwargs: Any
    ) -> "DynamicFrame":
        """Equijoin; both frames' fields are kept (a key with the same name on both sides, once)."""
        keys1 = [paths1] if isinstance(paths1, str) else list(paths1)
        keys2 = [paths2] if isinstance(paths2, str) else list(paths2)
        left, right = self._df.alias("left"), frame2.toDF().alias("right")
        condition = [F.col(f"left.`{a}`") == F.col(f"right.`{b}`") for a, b in zip(keys1, keys2, strict=True)]
        shared = {a for a, b in zip(keys1, keys2, strict=True) if a == b}
        clash = (set(self._df.columns) & set(frame2.toDF().columns)) - shared
        if clash:
            raise ValueError(f"join: both frames have the fields {sorted(clash)}; rename or drop them first")
        columns = [F.col(f"left.`{c}`") for c in self._df.columns]
        columns += [F.col(f"right.`{c}`") for c in frame2.toDF().columns if c not in shared]
        return DynamicFrame(left.join(right, condition).select(*columns), self.glue_ctx, self.name + frame2.name)

    def relationalize(
        self, root_table_name: str, staging_path: str = "", options: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> "DynamicFrameCollection":
        """Flatten into tables as Glue does: structs become `a.b` columns; each array becomes its own table
        `<parent>_<column>` with `id` (the value left in the parent's column), `index` and
        `<column>.val` (or `<column>.val.<field>`), recursively. staging_path is not needed here."""
        tables: dict[str, DataFrame] = {}
        _relationalize(root_table_name, self._df, tables)
        return DynamicFrameCollection(
            {name: DynamicFrame(df, self.glue_ctx, name) for name, df in tables.items()}, self.glue_ctx
        )

    def write(
        self,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,
        format_options: Mapping[str, Any] | None = None,
        accumulator_size: int = 0,
    ) -> "DynamicFrame":  # noqa: A002
        return self.glue_ctx.write_dynamic_frame_from_options(
            self, connection_type, connection_options, format, format_options
        )


class DynamicFrameCollection:
    def __init__(self, dynamic_frames: Mapping[str, DynamicFrame], glue_ctx: "GlueContext") -> None:
        self._frames = dict(dynamic_frames)
        self.glue_ctx = glue_ctx

    def __getitem__(self, key: str) -> DynamicFrame:
        return self._frames[key]

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def keys(self) -> list[str]:
        return list(self._frames)

    def values(self) -> list[DynamicFrame]:
        return list(self._frames.values())

    def select(self, key: str, transformation_ctx: str = "") -> DynamicFrame:
        return self._frames[key]


class DynamicFrameReader:
    """`glueContext.create_dynamic_frame.from_options(...)` / `.from_catalog(...)`."""

    def __init__(self, glue_context: "GlueContext") -> None:
        self._glue_context = glue_context

    def from_options(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        return self._glue_context.create_dynamic_frame_from_options(*args, **kwargs)

    def from_catalog(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        if "name_space" in kwargs:  # Glue's older keyword for the database
            kwargs["database"] = kwargs.pop("name_space")
        return self._glue_context.create_dynamic_frame_from_catalog(*args, **kwargs)


class DynamicFrameWriter:
    """`glueContext.write_dynamic_frame.from_options(...)` / `.from_catalog(...)`."""

    def __init__(self, glue_context: "GlueContext") -> None:
        self._glue_context = glue_context

    def from_options(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        return self._glue_context.write_dynamic_frame_from_options(*args, **kwargs)

    def from_catalog(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        if "name_space" in kwargs:
            kwargs["database"] = kwargs.pop("name_space")
        return self._glue_context.write_dynamic_frame_from_catalog(*args, **kwargs)


def _quoted(path: str | Sequence[str]) -> str:
    """A field path (dotted, or its parts) for F.col, each part backquoted (names may hold spaces or dots)."""
    return ".".join(f"`{part}`" for part in (path.split(".") if isinstance(path, str) else path))


def _build(name: str, value: Column | dict[str, Any]) -> Column:
    if isinstance(value, dict):
        return F.struct(*(_build(child, grand) for child, grand in value.items())).alias(name)
    return value.alias(name)


def _flatten(df: DataFrame) -> DataFrame:
    """Struct fields become top-level `a.b` columns, recursively."""
    columns: list[Column] = []

    def visit(path: list[str], schema: StructType) -> None:
        for field in schema.fields:
            if isinstance(field.dataType, StructType):
                visit([*path, field.name], field.dataType)
            else:
                columns.append(F.col(_quoted([*path, field.name])).alias(".".join([*path, field.name])))

    visit([], df.schema)
    return df.select(*columns)


def _relationalize(name: str, df: DataFrame, tables: dict[str, DataFrame]) -> None:
    flat = _flatten(df)
    arrays = [f.name for f in flat.schema.fields if isinstance(f.dataType, ArrayType)]
    if not arrays:
        tables[name] = flat
        return
    # One id per row joins each array's table back to its parent; checkpointed so that it is computed once.
    with_id = flat.withColumn("__id", F.monotonically_increasing_id() + 1).localCheckpoint()
    tables[name] = with_id.select(*(F.col("__id").alias(c) if c in arrays else F.col(f"`{c}`") for c in flat.columns))
    for column in arrays:
        child = with_id.select(
            F.col("__id").alias("id"), F.posexplode(F.col(f"`{column}`")).alias("index", f"{column}.val")
        )
        _relationalize(f"{name}_{column.replace('.', '_')}", child, tables)
