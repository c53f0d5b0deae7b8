"""leads: indexes for the staff's cross-business listing and for matching imported rows by email

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        # Staff who are not impersonating list every business's leads newest first (no business_id).
        batch_op.create_index("ix_leads_created", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_leads_updated", ["updated_at", "id"], unique=False)
        # A CSV row without a phone merges into the lead with its email.
        batch_op.create_index("ix_leads_business_email", ["business_id", "email"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_business_email")
        batch_op.drop_index("ix_leads_updated")
        batch_op.drop_index("ix_leads_created")
