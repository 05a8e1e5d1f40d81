"""Database routing: the ORM always uses the owner connection.

The ``reader`` alias exists for user queries (TAP/ADQL), which run raw SQL on
``connections["reader"]`` explicitly; no model is ever read or migrated through it.
"""


class OwnerOnlyRouter:
    def db_for_read(self, model, **hints):
        return "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
