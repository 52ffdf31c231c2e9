"""A playbook's whole definition as the API returns it: trigger, timings, channels, recipients,
tasks, branches and offers, so an integrator never reads YAML to know what will happen."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .domain.playbook import TIERS, Anchor, Playbook, Step


class AnchorView(BaseModel):
    attribute: str = Field(description="account date the time is relative to (enrolled_at = the run's start)")
    offset_seconds: float


class TriggerView(BaseModel):
    signal: str | None = Field(None, description="signal that starts a run")
    date: AnchorView | None = Field(None, description="date that starts a run")
    every_seconds: float | None = Field(None, description="a recurring date trigger's period")
    max_runs: int | None = Field(None, description="runs at most this many times per value of its date")
    phases: list[str] = Field(
        default_factory=list, description="only accounts in these phases (empty: any but churned)"
    )
    unless_running: list[str] = Field(
        default_factory=list, description="not while these playbooks run, nor within this cooldown of their last start"
    )


class ExitView(BaseModel):
    signal: str
    goto: str | None = None


class TaskView(BaseModel):
    type: str
    reason: str
    subject: str
    priority: str
    due_seconds: float | None = Field(None, description="due this long after the task opens")


class BranchView(BaseModel):
    signals: list[str]
    answer: dict[str, Any] = Field(default_factory=dict, description="answer values that must match (null: absent)")
    goto: str


class StepView(BaseModel):
    id: str
    kind: str = Field(description="send, task, wait, wait_for, check or end")
    then: str = Field(description="the step that follows when this one is done (end: the run ends)")
    channel: str | None = None
    template: str | None = None
    to: str | None = Field(
        None, description="recipients of a send: contacts, admins, users, csm_owner, user, answerer (who answered last)"
    )
    task: TaskView | None = None
    wait_seconds: float | None = Field(None, description="a wait's duration from the step's start")
    wait_until: AnchorView | None = Field(None, description="a wait's end, relative to an account date")
    branches: list[BranchView] = Field(default_factory=list, description="wait_for: signals that go elsewhere")
    timeout: str | None = Field(None, description="wait_for: where to go when the time runs out")
    seen: list[str] = Field(default_factory=list, description="check: signals looked for in this run")
    if_seen: str | None = None
    if_not_seen: str | None = None
    offer_features: bool = False
    offer: dict[str, dict[str, dict[str, Any]]] | None = Field(
        None, description="renewal offer per tier (or any), per answer"
    )


class PlaybookView(BaseModel):
    name: str
    description: str
    trigger: TriggerView
    cooldown_seconds: float
    counts_towards_cap: bool
    exits: list[ExitView]
    tiers: dict[str, str] = Field(description="which variant each tier runs (a tier missing is not enrolled)")
    variants: dict[str, list[StepView]]
    holdout: float | Literal["never"] | dict[str, float | Literal["never"]] | None = Field(
        None, description="the file's holdout: a share, never, or per variant; null = the service's default"
    )


def _anchor(a: Anchor | None) -> AnchorView | None:
    return None if a is None else AnchorView(attribute=a.attribute, offset_seconds=a.offset.total_seconds())


def _step(step: Step, following: str) -> StepView:
    task = None
    if step.kind == "task":
        assert step.task_type and step.reason and step.subject
        task = TaskView(
            type=step.task_type,
            reason=step.reason,
            subject=step.subject,
            priority=step.priority,
            due_seconds=step.due.total_seconds() if step.due is not None else None,
        )
    return StepView(
        id=step.id,
        kind=step.kind,
        then=following,
        channel=step.channel,
        template=step.template,
        to=step.to if step.kind == "send" else None,
        task=task,
        wait_seconds=step.duration.total_seconds() if step.duration is not None else None,
        wait_until=_anchor(step.until),
        branches=[BranchView(signals=list(m.signals), answer=dict(m.answer), goto=m.goto) for m in step.when],
        timeout=(step.timeout or following) if step.kind == "wait_for" else None,
        seen=list(step.seen),
        if_seen=step.then,
        if_not_seen=step.otherwise,
        offer_features=step.offer_features,
        offer=None
        if step.offer is None
        else {t: {a: o.model_dump() for a, o in table.items()} for t, table in step.offer.tiers.items()},
    )


def playbook_view(p: Playbook) -> PlaybookView:
    variants: dict[str, list[StepView]] = {}
    for name, steps in p.variants.items():
        views = []
        for i, step in enumerate(steps):
            following = step.next or (steps[i + 1].id if i + 1 < len(steps) else "end")
            views.append(_step(step, "end" if step.kind == "end" else following))
        variants[name] = views
    tiers = {tier: found[0] for tier in TIERS if (found := p.variant_for(tier)) is not None}
    t = p.trigger
    return PlaybookView(
        name=p.name,
        description=p.description,
        trigger=TriggerView(
            signal=t.signal,
            date=_anchor(t.date),
            every_seconds=t.every.total_seconds() if t.every is not None else None,
            max_runs=t.max_runs,
            phases=list(t.phases),
            unless_running=list(t.unless_running),
        ),
        cooldown_seconds=p.cooldown.total_seconds(),
        counts_towards_cap=p.counts_towards_cap,
        exits=[ExitView(signal=e.signal, goto=e.goto) for e in p.exits],
        tiers=tiers,
        variants=variants,
        holdout=p.holdout,
    )
