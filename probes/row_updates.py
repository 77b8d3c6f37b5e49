"""Many rows' columns written in one UPDATE statement run once per row (executemany).

Django's bulk_update builds one CASE per row and column and resolves each as an expression:
at a few hundred rows a second that was half of the prober's time. A statement run many
times costs the driver a loop (SQLite's in C; psycopg's in a pipeline) and Django nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection, models


def update_rows(
    model: type[models.Model], rows: Iterable[models.Model], fields: Sequence[str]
) -> None:
    """Write `fields` of each of `rows` (saved rows of `model`) as they are in memory."""
    columns = [model._meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    key = quote(model._meta.pk.column)
    # Names from the model, quoted; the values go as parameters.
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {key} = %s"  # noqa: S608
    values = [
        [column.get_db_prep_save(getattr(row, column.attname), connection) for column in columns]
        + [row.pk]
        for row in rows
    ]
    if values:
        with connection.cursor() as cursor:
            cursor.executemany(sql, values)
