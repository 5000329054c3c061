"""A row of a model with the rows its foreign keys point to, read by a query written once.

For a lookup every API request makes (its token, with the experiment and the creator): the
ORM spends more CPU composing `select_related(...).filter(...).first()` each time than the
database spends answering it. The instances are the ORM's own (from_db, with each field's
database converters), so they behave as select_related's do.
"""

from django.db import connection


class RelatedRowQuery:
    """`get(value)`: the `model` instance whose unique field `where` equals value, with the
    foreign keys in `related` loaded (one level), or None."""

    def __init__(self, model, related, where):
        self.model, self.related, self.where = model, tuple(related), where
        self._prepared = {}  # by database vendor: (sql, layout)

    def get(self, value):
        prepared = self._prepared.get(connection.vendor)
        if prepared is None:
            prepared = self._prepared[connection.vendor] = self._prepare()
        sql, layout = prepared
        with connection.cursor() as cursor:
            cursor.execute(sql, [value])
            row = cursor.fetchone()
        if row is None:
            return None
        instances, start = [], 0
        for model, names, converters in layout:
            values = list(row[start : start + len(names)])
            start += len(names)
            for index, (functions, column) in converters:
                for function in functions:
                    values[index] = function(values[index], column, connection)
            instances.append(model.from_db(connection.alias, names, values))
        instance = instances[0]
        for name, related in zip(self.related, instances[1:], strict=True):
            # A null foreign key left-joins a row of nulls: no related instance.
            points_somewhere = getattr(instance, self.model._meta.get_field(name).attname)
            setattr(instance, name, related if points_somewhere is not None else None)
        return instance

    def _prepare(self):
        quote = connection.ops.quote_name
        parts, joins = [(self.model, "t0")], []
        for number, name in enumerate(self.related, 1):
            field = self.model._meta.get_field(name)
            alias = f"t{number}"
            table = quote(field.related_model._meta.db_table)
            joins.append(
                f"{'LEFT JOIN' if field.null else 'JOIN'} {table} {alias} "
                f"ON {alias}.{quote(field.target_field.column)} = t0.{quote(field.column)}"
            )
            parts.append((field.related_model, alias))
        columns, layout = [], []
        for model, alias in parts:
            fields = model._meta.concrete_fields
            columns += [f"{alias}.{quote(field.column)}" for field in fields]
            converters = []
            for index, field in enumerate(fields):
                column = field.get_col(alias)
                functions = connection.ops.get_db_converters(column) + column.get_db_converters(
                    connection
                )
                if functions:
                    converters.append((index, (functions, column)))
            layout.append((model, [field.attname for field in fields], converters))
        where = quote(self.model._meta.get_field(self.where).column)
        sql = (
            f"SELECT {', '.join(columns)} FROM {quote(self.model._meta.db_table)} t0 "
            f"{' '.join(joins)} WHERE t0.{where} = %s"
        )
        return sql, layout
