"""Who works in the console, and what each role may do there. Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from backend.auth.tokens import Identity
from backend.domain.case_state import Actor
from backend.errors import Forbidden


class Permission(StrEnum):
    """Everything the console gates by role; checked in the service layer, shown in the UI."""

    VIEW = "view"
    WORK_CASES = "work_cases"
    """Assign to oneself, decide, ask the citizen, re-run automation, decide objections."""
    ASSIGN_OTHERS = "assign_others"
    CANCEL = "cancel"
    SECOND_APPROVAL = "second_approval"
    """Four-eyes: confirm a colleague's overturn of an automated decision."""
    SWITCH_AUTOMATION = "switch_automation"
    DESIGN = "design"
    """Write drafts of the department's services in the designer (issue 15, part 2)."""
    PUBLISH_DEFINITIONS = "publish_definitions"
    """Approve a colleague's draft and publish it: four eyes, never the author."""
    OPERATE = "operate"
    """The data centre's view across tenants: counts and configuration, no personal data."""


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "clerk": frozenset({Permission.VIEW, Permission.WORK_CASES}),
    "supervisor": frozenset(
        {
            Permission.VIEW,
            Permission.WORK_CASES,
            Permission.ASSIGN_OTHERS,
            Permission.CANCEL,
            Permission.SECOND_APPROVAL,
            Permission.SWITCH_AUTOMATION,
            Permission.DESIGN,
            Permission.PUBLISH_DEFINITIONS,
        }
    ),
    # The department's "business designer": changes texts, parameters and rules of its
    # services as drafts; a supervisor approves and publishes them. Decides no cases.
    "designer": frozenset({Permission.VIEW, Permission.DESIGN}),
    # An administrator runs the service technically (switches, assignments) but decides no
    # cases: an administrative act is signed by a Sachbearbeiter/in of the department.
    "admin": frozenset({Permission.VIEW, Permission.ASSIGN_OTHERS, Permission.SWITCH_AUTOMATION}),
    # The municipal data centre that runs the platform for many towns (issue 13, item 4): health,
    # queues, KPIs and configuration across tenants, never a case, a citizen or a clerk's work.
    "operator": frozenset({Permission.OPERATE}),
}
"""Role → permissions; a person with several roles has the union."""

ROLES = tuple(ROLE_PERMISSIONS)


@dataclass(frozen=True)
class ClerkIdentity:
    """A verified member of one department; the only view of a login the console uses."""

    sub: str
    name: str
    department: str
    roles: tuple[str, ...]

    @classmethod
    def from_identity(cls, identity: Identity) -> ClerkIdentity:
        """Refuses citizens and accounts without any console role."""
        if not identity.is_clerk or identity.department is None:
            raise Forbidden(
                "Die Konsole ist nur für Beschäftigte der Fachbereiche. "
                "(The console is for department staff only.)"
            )
        roles = tuple(r for r in identity.roles if r in ROLE_PERMISSIONS)
        if not roles:
            raise Forbidden(
                "Ihrem Konto ist keine Rolle in der Konsole zugewiesen. "
                "(Your account has no console role.)"
            )
        return cls(identity.sub, identity.name, identity.department, roles)

    @property
    def permissions(self) -> frozenset[Permission]:
        granted: set[Permission] = set()
        for role in self.roles:
            granted |= ROLE_PERMISSIONS[role]
        return frozenset(granted)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        """403 with a message that names the missing role, so the clerk knows whom to ask."""
        if not self.can(permission):
            raise Forbidden(
                "Dafür fehlt Ihnen die Berechtigung; bitte wenden Sie sich an Ihre "
                "Vorgesetzte oder Ihren Vorgesetzten. (You lack the permission for this.)"
            )

    @property
    def actor(self) -> Actor:
        return Actor.clerk(self.sub)

    @property
    def is_supervisor(self) -> bool:
        return "supervisor" in self.roles
