from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, StrictStr

from server.auth.schemas import Strict, UserRef

PROMPT_MAX_CHARS = 20_000


class PromptIn(Strict):
    """Exactly the two prompts; unknown or missing keys are refused by name."""

    calls_prompt: StrictStr = Field(max_length=PROMPT_MAX_CHARS)
    whatsapp_prompt: StrictStr = Field(max_length=PROMPT_MAX_CHARS)


class PromptOut(BaseModel):
    business_id: int
    calls_prompt: str
    whatsapp_prompt: str
    version: int
    updated_at: datetime | None
    updated_by: UserRef | None


class PromptVersionOut(BaseModel):
    version: int
    calls_prompt: str
    whatsapp_prompt: str
    saved_at: datetime
    saved_by: UserRef | None
    impersonation_id: int | None


class PromptHistoryQuery(Strict):
    limit: int = Field(default=50, ge=1, le=200)
    before_version: int | None = None


class PromptHistory(BaseModel):
    items: list[PromptVersionOut]


class CurrentBusinessOut(BaseModel):
    id: int
    name: str
    timezone: str
    is_active: bool
    voice_numbers: list[str]
    whatsapp_numbers: list[str]
