from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class SignalSummary(BaseModel):
    """A defect signal: its group, trigger, rate against the threshold, window and status."""

    id: str
    group: dict[str, Any]
    trigger: dict[str, Any]
    unit_count: int
    population: int
    rate: float
    threshold: dict[str, Any]
    window: dict[str, Any]
    raised_at: str | None
    status: str
    recall_id: str | None


class SignalView(SignalSummary):
    """The signal with its units and the manufacturers concerned."""

    units: list[str]
    manufacturers: list[str]
    updated_at: str | None


class Signals(BaseModel):
    signals: list[SignalSummary]


class ScannedSignals(BaseModel):
    signals: list[SignalView]


class RecallFromSignal(BaseModel):
    id: str
    affected: int
    signal_id: str
