"""Imports every domain's tables so that Base.metadata (and Alembic) sees them all."""

from server.admin.models import AuditEntry, Impersonation
from server.auth.models import User, UserSession
from server.business.models import Business, BusinessNumber, Prompt, PromptVersion
from server.leads.models import Lead, LeadEvent, LeadStatus, LeadTag

__all__ = [
    "AuditEntry",
    "Business",
    "BusinessNumber",
    "Impersonation",
    "Lead",
    "LeadEvent",
    "LeadStatus",
    "LeadTag",
    "Prompt",
    "PromptVersion",
    "User",
    "UserSession",
]
