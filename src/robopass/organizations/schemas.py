from __future__ import annotations

from datetime import datetime

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


class ServiceAuthorization(BaseModel):
    id: str
    provider_id: str
    code: str | None
