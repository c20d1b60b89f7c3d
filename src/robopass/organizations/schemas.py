from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class OrganizationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(min_length=1, max_length=9)
    country: str = Field(min_length=2, max_length=2, pattern="^[A-Z]{2}$")
    uscc: str | None = Field(default=None, max_length=40)
    registration_number: str | None = Field(default=None, max_length=64)
    province: str | None = Field(default=None, pattern=r"^\d{6}$")
    city: str | None = Field(default=None, pattern=r"^\d{6}$")
    scope_province: str | None = Field(default=None, pattern=r"^\d{6}$")


class OrganizationCreated(BaseModel):
    id: str
    company_code: str | None
    api_key: str


class OrganizationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    roles: list[str]
    country: str
    uscc: str | None
    registration_number: str | None
    company_code: str | None
    province: str | None
    city: str | None
    scope_province: str | None
    status: str
    created_at: datetime
    name_zh: str | None = None
    status_reason: str | None = None
    accreditation_scopes: list[str] | None = None
    accredited_until: date | None = None


class KeyCreated(BaseModel):
    api_key: str


class KeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    prefix: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


class ServiceAuthorizationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider_id: str = Field(max_length=40)
    code: str | None = Field(default=None, max_length=64)


class OrganizationUpdate(BaseModel):
    """Only the fields given change; ``reason`` is kept in the decision record."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    name_zh: str | None = Field(default=None, max_length=200)
    province: str | None = Field(default=None, pattern=r"^\d{6}$")
    city: str | None = Field(default=None, pattern=r"^\d{6}$")
    reason: str | None = Field(default=None, max_length=1000)


class OrganizationStatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)


class AccreditationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scopes: list[Literal["intelligence", "safety"]] = Field(min_length=1, max_length=2)
    valid_until: date
    reason: str | None = Field(default=None, max_length=1000)
class ServiceAuthorization(BaseModel):
    id: str
    provider_id: str
    code: str | None
