"""calls: who wrote a lead's name; the notes block a call wrote

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 02:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_source", sa.String(length=8), server_default="human", nullable=False))
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lead_note", sa.Text(), nullable=True))
    # Names the phone or WhatsApp agent wrote and no human changed since (an edit records
    # {"changes": {"full_name": …}}, an import merge {"full_name": …}) may be replaced by the AI.
    op.execute(
        """
        UPDATE leads SET name_source = 'agent'
        WHERE source IN ('call', 'whatsapp') AND full_name <> ''
          AND NOT EXISTS (
            SELECT 1 FROM lead_events e
            WHERE e.lead_id = leads.id
              AND ((e.kind = 'updated' AND CAST(e.data AS TEXT) LIKE '%"changes"%"full_name"%')
                OR (e.kind = 'merged' AND CAST(e.data AS TEXT) LIKE '%"full_name"%'))
          )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("lead_note")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_column("name_source")
