"""Run a table's pandera model over the few columns that carry checks, and map failures to rows.

Why a subset: converting raw JSON and bodies to pandas would double memory and time for columns
pandera has nothing to check; the checks that matter (ids, enums, ranges, hashes) are vectorised
over a narrow frame. Every failure is collected (`lazy=True`), not only the first.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

import pandas as pd
import pandera.pandas as pandera
import pyarrow as pa

# The pandas dtype of an Arrow timestamp[ms, tz=UTC] column, for pandera models.
UtcMillis = Annotated[pd.DatetimeTZDtype, "ms", "UTC"]

# Nullable pandas extension types, so a null bool/int stays null instead of becoming NaN/object.
_PANDAS_TYPES = {
    pa.bool_(): pd.BooleanDtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
}


def arrow_to_pandera_dtype(arrow_type: pa.DataType) -> str:
    """The pandera dtype name a column of this Arrow type must have (schema agreement test)."""
    if pa.types.is_string(arrow_type):
        return "str"
    if pa.types.is_timestamp(arrow_type):
        return f"datetime64[{arrow_type.unit}, {arrow_type.tz}]"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_int32(arrow_type):
        return "Int32"
    if pa.types.is_int64(arrow_type):
        return "Int64"
    if pa.types.is_date32(arrow_type):
        return "date"
    if pa.types.is_list(arrow_type) or pa.types.is_struct(arrow_type):
        return "object"
    raise TypeError(f"no pandera dtype mapped for Arrow type {arrow_type}")


def failing_rows(
    model: type[pandera.DataFrameModel], table: pa.Table, columns: list[str]
) -> dict[int, list[str]]:
    """Row index -> every check that row failed (empty dict when all rows pass)."""
    if table.num_rows == 0:
        return {}
    schema = model.to_schema().select_columns(columns)
    frame = table.select(columns).to_pandas(types_mapper=_PANDAS_TYPES.get)
    try:
        schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        return _group_failures(errors.failure_cases, table.num_rows)
    return {}


def _group_failures(failure_cases: pd.DataFrame, num_rows: int) -> dict[int, list[str]]:
    reasons: dict[int, list[str]] = defaultdict(list)
    for column, check, index, case in failure_cases[
        ["column", "check", "index", "failure_case"]
    ].itertuples(index=False):
        reason = f"{column}: failed {check} (value {str(case)[:80]!r})"
        if index is None or (isinstance(index, float) and pd.isna(index)):
            # A frame-level failure (wrong dtype, missing column) concerns every row.
            for row in range(num_rows):
                reasons[row].append(reason)
        else:
            reasons[int(index)].append(reason)
    return dict(reasons)
