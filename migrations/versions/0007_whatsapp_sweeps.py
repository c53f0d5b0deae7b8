"""whatsapp: indexes for the minute sweeps (stranded armed conversations, stranded queued messages) and
for finding a conversation by Meta's business-scoped user id (every Meta message carries one)

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index("ix_conversations_reply_armed_at", ["reply_armed_at"], unique=False)
        batch_op.create_index("ix_conversations_business_user", ["business_id", "customer_user_id"], unique=False)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_status_at", ["status", "status_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_status_at")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_business_user")
        batch_op.drop_index("ix_conversations_reply_armed_at")
