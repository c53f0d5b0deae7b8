"""Imports every domain's tables so that Base.metadata (and Alembic) sees them all."""

from server.admin.models import AuditEntry, Impersonation
from server.auth.models import User, UserSession
from server.business.models import Business, BusinessNumber, Prompt, PromptVersion
from server.calls.models import Call
from server.leads.models import Lead, LeadEvent, LeadStatus, LeadTag
from server.reminders.models import Notification, Reminder
from server.whatsapp.models import Conversation, InboundEvent, Message

__all__ = [
    "AuditEntry",
    "Business",
    "BusinessNumber",
    "Call",
    "Conversation",
    "Impersonation",
    "InboundEvent",
    "Lead",
    "LeadEvent",
    "LeadStatus",
    "LeadTag",
    "Message",
    "Notification",
    "Prompt",
    "PromptVersion",
    "Reminder",
    "User",
    "UserSession",
]
