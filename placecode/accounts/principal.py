"""Who acts, and what their role and scope let them reach.

Every listing narrows its query with `scope_clause(...)` and every single thing is checked
with `Principal.covers(...)`: the scope rules are written here once and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, false, true

from placecode.accounts.models import ROLE_SCOPE, SCOPE_LABELS, Role, ScopeKind, User
from placecode.errors import Forbidden
from placecode.i18n import _


@dataclass(frozen=True)
class Principal:
    """The signed-in user (or device) behind a request."""

    user_id: int
    username: str
    display_name: str
    role: Role
    scope: str | None
    via: Literal["session", "token", "cli"]

    @classmethod
    def of(cls, user: User, via: Literal["session", "token", "cli"]) -> Principal:
        return cls(
            user_id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=Role(user.role),
            scope=user.scope,
            via=via,
        )

    @property
    def scope_kind(self) -> ScopeKind:
        return ROLE_SCOPE[self.role]

    def covers(
        self,
        *,
        street: str | None = None,
        department: str | None = None,
        organisation: str | None = None,
        venue: str | None = None,
    ) -> bool:
        """Whether a thing with these attributes lies inside this principal's scope."""
        kind = self.scope_kind
        if kind is ScopeKind.district:
            return True
        value = {
            ScopeKind.street: street,
            ScopeKind.department: department,
            ScopeKind.organisation: organisation,
            ScopeKind.venue: venue,
        }[kind]
        return value is not None and value == self.scope

    def ensure_covers(self, **attributes: str | None) -> None:
        if not self.covers(**attributes):
            raise Forbidden(
                _("This lies outside your scope ({kind} {scope}).").format(
                    kind=_(SCOPE_LABELS[self.scope_kind]), scope=self.scope
                ),
                code="out_of_scope",
            )


def scope_clause(
    principal: Principal,
    *,
    street: Any = None,
    department: Any = None,
    organisation: Any = None,
    venue: Any = None,
) -> ColumnElement[bool]:
    """A WHERE clause limiting a listing to the principal's scope.

    Pass the columns that carry each attribute; a listing that has no column for the
    principal's kind of scope shows them nothing.
    """
    kind = principal.scope_kind
    if kind is ScopeKind.district:
        return true()
    column = {
        ScopeKind.street: street,
        ScopeKind.department: department,
        ScopeKind.organisation: organisation,
        ScopeKind.venue: venue,
    }[kind]
    if column is None:
        return false()
    clause: ColumnElement[bool] = column == principal.scope
    return clause
