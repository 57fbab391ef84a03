"""Model instances from hand-written SQL, as `Model.objects.raw(...)` makes them.

The connect and join paths read a few rows each with hand-written queries (the
ORM spent more compiling them than the database running them). `raw()` then
spent more again setting itself up on every call: its column-to-field mapping,
init order and value converters are worked out per query. `model_rows` works
them out once per model, column list and database connection, and otherwise
does what `RawModelIterable` does: the same converters, `Model.from_db`, and
columns that are not the model's set as attributes.
"""

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar

from django.core.exceptions import FieldDoesNotExist
from django.db import connections, router
from django.db.models import Model

M = TypeVar("M", bound=Model)


class _Plan(NamedTuple):
    init_names: list[str]
    init_positions: list[int]
    extra: list[tuple[str, int]]  # (column, position): set as attributes
    converters: list[tuple[int, list, Any]]  # (position, converters, expression)


def model_rows(model: type[M], sql: str, params: Sequence[Any]) -> list[M]:
    """Return the rows of `sql` as instances of `model` (what `raw()` returns)."""
    alias = router.db_for_read(model)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = tuple(column[0] for column in cursor.description)
        rows = cursor.fetchall()
    plan = _plan(model, columns, connection)  # type: ignore[arg-type]  # classes hash
    found = []
    for row in rows:
        values = list(row)
        for position, converters, expression in plan.converters:
            value = values[position]
            for converter in converters:
                value = converter(value, expression, connection)
            values[position] = value
        instance = model.from_db(
            alias, plan.init_names, [values[i] for i in plan.init_positions]
        )
        for column, position in plan.extra:
            setattr(instance, column, values[position])
        found.append(instance)
    return found


@functools.lru_cache(maxsize=256)
def _plan(model: type[Model], raw_columns: tuple[str, ...], connection) -> _Plan:
    convert = connection.introspection.identifier_converter
    columns = [convert(column) for column in raw_columns]
    by_column = {convert(field.column): field for field in model._meta.fields}
    init_fields = [f for f in model._meta.fields if convert(f.column) in columns]
    init_names = [f.attname for f in init_fields]
    if model._meta.pk.attname not in init_names:
        raise FieldDoesNotExist("Raw query must include the primary key")
    converters = []
    for position, column in enumerate(columns):
        field = by_column.get(column)
        if field is None:
            continue
        expression = field.get_col(field.model._meta.db_table)
        found = connection.ops.get_db_converters(
            expression
        ) + expression.get_db_converters(connection)
        if found:
            converters.append((position, found, expression))
    return _Plan(
        init_names=init_names,
        init_positions=[columns.index(convert(f.column)) for f in init_fields],
        extra=[(c, i) for i, c in enumerate(columns) if c not in by_column],
        converters=converters,
    )
