"""JSON API of accounts: who am I, API tokens, users and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from placecode.accounts import service
from placecode.accounts.authz import ALL_STAFF, requires
from placecode.accounts.models import Role
from placecode.accounts.principal import Principal
from placecode.accounts.schemas import (
    AuditView,
    Me,
    TokenCreate,
    TokenIssued,
    TokenRequest,
    TokenView,
    UserCreate,
    UserView,
)
from placecode.web.deps import SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1", tags=["accounts"])

Anyone = Annotated[Principal, requires(*Role)]
Staff = Annotated[Principal, requires(*ALL_STAFF)]
DistrictAdmin = Annotated[Principal, requires(Role.district_admin)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post("/auth/token", status_code=status.HTTP_201_CREATED)
def issue_token(
    body: TokenRequest, request: Request, session: SessionDep, settings: SettingsDep
) -> TokenIssued:
    """Sign in with a username and password and receive a new API token."""
    user = service.sign_in(
        session=session,
        settings=settings,
        username=body.username,
        password=body.password,
        ip=client_ip(request),
    )
    token, secret = service.create_api_token(
        session=session, settings=settings, actor=user, user=user, name=body.name, days=body.days
    )
    return TokenIssued(token=TokenView.model_validate(token), secret=secret)


@router.get("/me")
def me(principal: Anyone) -> Me:
    """Say who is signed in, with their role and scope."""
    return Me(
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role,
        scope_kind=principal.scope_kind,
        scope=principal.scope,
        signed_in_via=principal.via,
    )


@router.get("/me/tokens")
def my_tokens(principal: Staff, session: SessionDep) -> list[TokenView]:
    """List your own API tokens (never their secrets)."""
    user = service.get_user(session=session, username=principal.username)
    return [
        TokenView.model_validate(t) for t in service.list_api_tokens(session=session, user=user)
    ]


@router.post("/me/tokens", status_code=status.HTTP_201_CREATED)
def create_my_token(
    body: TokenCreate, principal: Staff, session: SessionDep, settings: SettingsDep
) -> TokenIssued:
    """Create an API token for yourself; its secret is shown only in this answer."""
    user = service.get_user(session=session, username=principal.username)
    token, secret = service.create_api_token(
        session=session,
        settings=settings,
        actor=principal,
        user=user,
        name=body.name,
        days=body.days,
    )
    return TokenIssued(token=TokenView.model_validate(token), secret=secret)


@router.delete("/me/tokens/{token_id}")
def revoke_my_token(token_id: str, principal: Staff, session: SessionDep) -> TokenView:
    """Revoke one of your own API tokens; it stops working at once."""
    user = service.get_user(session=session, username=principal.username)
    token = service.revoke_api_token(
        session=session, actor=principal, token_id=token_id, owner=user
    )
    return TokenView.model_validate(token)


@router.get("/users")
def list_users(
    principal: DistrictAdmin, session: SessionDep, role: Role | None = None
) -> list[UserView]:
    """List accounts, optionally of one role."""
    return [UserView.model_validate(u) for u in service.list_users(session=session, role=role)]


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(
    body: UserCreate, principal: DistrictAdmin, session: SessionDep, settings: SettingsDep
) -> UserView:
    """Create an account with a role and its scope."""
    user = service.create_user(
        session=session,
        settings=settings,
        actor=principal,
        username=body.username,
        role=body.role,
        scope=body.scope,
        display_name=body.display_name,
        password=body.password,
    )
    return UserView.model_validate(user)


@router.get("/users/{username}")
def get_user(username: str, principal: DistrictAdmin, session: SessionDep) -> UserView:
    """Show one account."""
    return UserView.model_validate(service.get_user(session=session, username=username))


@router.post("/users/{username}/disable")
def disable_user(username: str, principal: DistrictAdmin, session: SessionDep) -> UserView:
    """Disable an account: its sessions and tokens stop working at once."""
    user = service.set_user_active(
        session=session, actor=principal, username=username, active=False
    )
    return UserView.model_validate(user)


@router.post("/users/{username}/enable")
def enable_user(username: str, principal: DistrictAdmin, session: SessionDep) -> UserView:
    """Enable a disabled account again."""
    user = service.set_user_active(session=session, actor=principal, username=username, active=True)
    return UserView.model_validate(user)


@router.post("/users/{username}/tokens", status_code=status.HTTP_201_CREATED)
def create_user_token(
    username: str,
    body: TokenCreate,
    principal: DistrictAdmin,
    session: SessionDep,
    settings: SettingsDep,
) -> TokenIssued:
    """Create a token for an account, e.g. a sentinel device at a venue's door."""
    user = service.get_user(session=session, username=username)
    token, secret = service.create_api_token(
        session=session,
        settings=settings,
        actor=principal,
        user=user,
        name=body.name,
        days=body.days,
    )
    return TokenIssued(token=TokenView.model_validate(token), secret=secret)


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: str, principal: DistrictAdmin, session: SessionDep) -> TokenView:
    """Revoke anyone's API token."""
    token = service.revoke_api_token(session=session, actor=principal, token_id=token_id)
    return TokenView.model_validate(token)


@router.get("/audit")
def audit_log(
    principal: DistrictAdmin,
    session: SessionDep,
    action: Annotated[str | None, Query(max_length=60)] = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditView]:
    """Read the audit log, newest first (page with before_id)."""
    entries = service.list_audit(
        session=session, action=action, actor=actor, before_id=before_id, limit=limit
    )
    return [AuditView.model_validate(e) for e in entries]
