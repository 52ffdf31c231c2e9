"""Response models of notify's JSON API: what the OpenAPI promises each answer holds.

Times are ISO 8601 strings with their offset. Each model allows fields beyond the ones named, so a
column added later reaches clients before the model names it; the named ones are always there.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_OPEN = ConfigDict(extra="allow")


class CallToAction(BaseModel):
    label: str | None
    url: str


class InAppMessage(BaseModel):
    model_config = _OPEN

    id: str
    kind: str = Field(description="e.g. announcement, survey")
    survey: str | None = Field(description="the survey asked (nps, csat, ...), if the message is one")
    template: str
    locale: str
    title: str
    body: str
    question: str | None
    choices: Any = Field(description="the answers offered, for a survey")
    cta: CallToAction | None
    created_at: str
    expires_at: str | None


class InAppMessages(BaseModel):
    user_id: str
    messages: list[InAppMessage]


class InAppEventRecorded(BaseModel):
    ok: bool
    recorded: bool = Field(description="false when this event was already recorded for the message")


class TaskComment(BaseModel):
    model_config = _OPEN

    author: str | None
    body: str
    created_at: str


class Task(BaseModel):
    model_config = _OPEN

    id: str
    account_id: str
    contact: str | None
    type: str
    reason: str
    subject: str
    body: str
    priority: str = Field(description="low, medium, high or urgent")
    status: str = Field(description="open, snoozed, completed or closed")
    owner: str | None
    due_at: str | None
    playbook: str | None
    step: str | None
    created_at: str
    updated_at: str
    closed_at: str | None
    close_reason: str | None
    snoozed_until: str | None
    overdue: bool
    days_past_due: int


class TaskWithComments(Task):
    comments: list[TaskComment]


class Tasks(BaseModel):
    tasks: list[Task]


class Activity(BaseModel):
    model_config = _OPEN

    id: str
    account_id: str
    kind: str = Field(description="call, meeting, email or note")
    contact: str | None = Field(description="the person spoken to or tried (none on a note)")
    occurred_at: str
    outcome: str
    reached: bool = Field(description="did it reach the customer (a note never does)")
    relationship: int | None = Field(description="the CSM's rating of the relationship, 1-5")
    csm: str
    created_at: str
    contact_counted: bool = Field(
        description="counts as contact (health's last contact and relationship, touch's re-engagement clock)"
    )


class Activities(BaseModel):
    account_id: str
    activities: list[Activity]


class TimelineItem(BaseModel):
    """One mail, in-app message, task, logged activity or milestone; the fields of its channel follow those named here."""

    model_config = _OPEN

    channel: Literal["email", "in_app", "task", "activity", "milestone"]
    type: str = Field(description="the channel, or a task's own type (kept for readers written against it)")
    at: str
    id: str


class Timeline(BaseModel):
    account_id: str
    items: list[TimelineItem]
