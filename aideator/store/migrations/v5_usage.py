"""Version 5: what each variation's model calls through the gateway used and cost, and
whether the gateway refused it for its budget (``variationusage``, one row per variation).

Declared here as it was at this version, not imported from ``models``, so later changes to
the models cannot change what this step did.
"""
from __future__ import annotations

from peewee import SQL, CharField, Database, DateTimeField, DoubleField, IntegerField, Model


class VariationUsage(Model):
    # As the model's foreign key: column run_id, rows deleted with their run.
    run = CharField(max_length=63, column_name="run_id",
                    constraints=[SQL("REFERENCES run (id) ON DELETE CASCADE")])
    variation = IntegerField()
    calls = IntegerField(default=0)
    input_tokens = IntegerField(default=0)
    output_tokens = IntegerField(default=0)
    cache_creation_input_tokens = IntegerField(default=0)
    cache_read_input_tokens = IntegerField(default=0)
    cost_usd = DoubleField(default=0.0)
    unpriced_calls = IntegerField(default=0)
    refused_calls = IntegerField(default=0)
    refused_at = DateTimeField(null=True)

    class Meta:
        table_name = "variationusage"
        indexes = ((("run", "variation"), True),)


def upgrade(db: Database) -> None:
    with db.bind_ctx([VariationUsage]):
        db.create_tables([VariationUsage])
