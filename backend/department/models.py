"""Tables of the department: its clerks (the staff directory) and its automation switches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from backend.columns import optional_time, stamped


class AutomationSwitch(SQLModel, table=True):
    """One pause or resume of a service's automation; the newest row per service is in force.

    Kept as history, not as a flag: the department must show the council when and why it
    stopped the machine."""

    __tablename__ = "automation_switches"
    __table_args__ = (Index("ix_automation_switches_service_at", "service", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    service: str = Field(max_length=64)
    department: str = Field(max_length=64)
    paused: bool
    reason: str = Field(max_length=2000)
    actor: str = Field(max_length=160)
    actor_name: str = Field(max_length=200)
    at: datetime = stamped(nullable=False)


class ConsoleClerk(SQLModel, table=True):
    """A member of staff as last seen in the console, so colleagues can be picked by name."""

    __tablename__ = "console_clerks"
    __table_args__ = (Index("ix_console_clerks_department", "department"),)

    sub: str = Field(primary_key=True, max_length=128)
    name: str = Field(max_length=200)
    department: str = Field(max_length=64)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    last_seen: datetime = stamped(nullable=False)
    active: bool = Field(default=True)
    """False once the staff directory no longer lists the person (left, moved department)."""
    in_directory: bool = Field(default=False)
    """Listed by the staff directory (SCIM); else known only from a console login."""
    email: str | None = Field(default=None, max_length=254)
    """Work address from the staff directory, for the optional mail about new work."""
    work_mail: str = Field(default="off", max_length=16)
    """off · daily · immediate: the clerk's choice of mail about new and overdue work."""
    work_mail_at: datetime | None = optional_time()
    """When the last such mail went out (its counts start there)."""
