"""Users, sign-in, API tokens and the audit log."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from placecode.accounts.models import (
    ROLE_LABELS,
    ROLE_SCOPE,
    SCOPE_LABELS,
    ApiToken,
    AuditEntry,
    Role,
    ScopeKind,
    SignInThrottle,
    User,
)
from placecode.accounts.security import (
    dummy_hash,
    hash_password,
    needs_rehash,
    new_token_secret,
    token_digest,
    verify_password,
)
from placecode.clock import clock
from placecode.config import Settings
from placecode.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unauthorized
from placecode.i18n import _
from placecode.region import service as region_service

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
# A token's last use is written at most this often, so reads stay reads.
LAST_USED_RESOLUTION = timedelta(minutes=5)


class Actor(Protocol):
    """Whoever causes an audited change: a signed-in user, a device, or an operator."""

    @property
    def username(self) -> str: ...

    @property
    def role(self) -> str | None: ...


@dataclass(frozen=True)
class Operator:
    """Someone at the command line of the server (they hold its keys already)."""

    username: str = "operator"
    role: str | None = None


class SignInFailed(Unauthorized):
    keep_changes: ClassVar[bool] = True  # the failure must count even though the request fails


class SignInLocked(TooManyRequests):
    keep_changes: ClassVar[bool] = True


# --- audit ----------------------------------------------------------------------


def record_audit(
    *,
    session: Session,
    actor: Actor,
    action: str,
    target: str | None = None,
    purpose: str | None = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Append one entry to the audit log, in the caller's transaction."""
    entry = AuditEntry(
        at=clock.now(),
        actor=actor.username,
        actor_role=actor.role,
        action=action,
        target=target,
        purpose=purpose,
        detail=detail,
        ip=ip,
    )
    session.add(entry)
    return entry


def list_audit(
    *,
    session: Session,
    action: str | None = None,
    actor: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Newest entries first, optionally filtered, paged by id."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(session.scalars(query))


# --- users ----------------------------------------------------------------------


def check_scope(*, session: Session, role: Role, scope: str | None) -> str | None:
    """Return the scope a role needs, refusing a missing, superfluous or unknown one."""
    kind = ROLE_SCOPE[role]
    if kind is ScopeKind.district:
        if scope:
            raise InvalidInput(
                _("Role {role} covers the whole district and takes no scope.").format(
                    role=_(ROLE_LABELS[role])
                ),
                code="scope_not_allowed",
            )
        return None
    if not scope:
        raise InvalidInput(
            _("Role {role} needs a scope: the code of its {kind}.").format(
                role=_(ROLE_LABELS[role]), kind=_(SCOPE_LABELS[kind])
            ),
            code="scope_required",
        )
    if kind is ScopeKind.street:
        region_service.get_street(session=session, code=scope)
    elif kind is ScopeKind.department:
        region_service.get_department(session=session, code=scope)
    else:
        # Imported here: venues builds on accounts, so accounts reaches it only when asked.
        from placecode.venues import service as venues_service

        if kind is ScopeKind.organisation:
            venues_service.get_organisation(session=session, organisation_id=scope)
        else:
            venues_service.get_venue(session=session, venue_id=scope)
    return scope


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            _("A password needs at least {n} characters.").format(n=MIN_PASSWORD_LENGTH),
            code="weak_password",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            _("A password may have at most {n} characters.").format(n=MAX_PASSWORD_LENGTH),
            code="weak_password",
        )


def create_user(
    *,
    session: Session,
    settings: Settings,
    actor: Actor,
    username: str,
    role: Role,
    scope: str | None = None,
    display_name: str | None = None,
    password: str | None = None,
) -> User:
    """Create an account; people get a password, sentinel devices only ever get tokens."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise InvalidInput(
            _(
                "A username is 2 to 64 characters: lower-case letters, digits, '.', '_' or "
                "'-', starting with a letter or digit."
            ),
            code="bad_username",
        )
    scope = check_scope(session=session, role=role, scope=scope)
    if role is Role.sentinel:
        if password is not None:
            raise InvalidInput(
                _("A sentinel device signs in with a device token, not a password."),
                code="device_password",
            )
        password_hash = None
    else:
        if password is None:
            raise InvalidInput(_("A password is required."), code="weak_password")
        check_password(password)
        password_hash = hash_password(settings, password)
    if session.scalars(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict(
            _("The username {username!r} is taken.").format(username=username),
            code="username_taken",
        )
    user = User(
        username=username,
        display_name=(display_name or username).strip()[:120],
        role=role.value,
        scope=scope,
        password_hash=password_hash,
        is_active=True,
        session_epoch=0,
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="user.create",
        target=username,
        detail={"role": role.value, "scope": scope},
    )
    return user


def get_user(*, session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        raise NotFound(_("There is no user {username!r}.").format(username=username))
    return user


def list_users(*, session: Session, role: Role | None = None) -> list[User]:
    query = select(User).order_by(User.username)
    if role is not None:
        query = query.where(User.role == role.value)
    return list(session.scalars(query))


def set_user_active(*, session: Session, actor: Actor, username: str, active: bool) -> User:
    """Disable an account (its sessions and tokens stop at once) or enable it again."""
    user = get_user(session=session, username=username)
    if not active and user.username == actor.username:
        raise Conflict(_("You cannot disable your own account."), code="disable_self")
    if user.is_active != active:
        user.is_active = active
        user.session_epoch += 1
        record_audit(
            session=session,
            actor=actor,
            action="user.enable" if active else "user.disable",
            target=user.username,
        )
    return user


def set_password(
    *, session: Session, settings: Settings, actor: Actor, username: str, password: str
) -> User:
    """Replace a password; sessions signed in with the old one end."""
    user = get_user(session=session, username=username)
    if user.role == Role.sentinel:
        raise InvalidInput(
            _("A sentinel device signs in with a device token, not a password."),
            code="device_password",
        )
    check_password(password)
    user.password_hash = hash_password(settings, password)
    user.session_epoch += 1
    record_audit(session=session, actor=actor, action="user.password", target=user.username)
    return user


# --- sign-in ----------------------------------------------------------------------


def sign_in(
    *, session: Session, settings: Settings, username: str, password: str, ip: str | None = None
) -> User:
    """Check a username and password, counting failures and locking after too many.

    Unknown usernames are checked against a dummy hash and throttled like known ones, so
    neither the answer nor its timing tells whether an account exists.
    """
    name = username.strip().lower()[:64]
    now = clock.now()
    throttle = session.get(SignInThrottle, name)
    if throttle is not None and throttle.locked_until is not None and throttle.locked_until > now:
        wait = int((throttle.locked_until - now).total_seconds()) + 1
        raise SignInLocked(
            _("Too many failed sign-ins for this account. Try again in {minutes} minutes.").format(
                minutes=max(1, (wait + 59) // 60)
            ),
            retry_after=wait,
            code="sign_in_locked",
        )

    user = session.scalars(select(User).where(User.username == name)).first()
    stored_hash = user.password_hash if user is not None and user.is_active else None
    password = password[:MAX_PASSWORD_LENGTH]
    matches = verify_password(settings, stored_hash or dummy_hash(settings), password)
    if user is not None and stored_hash is not None and matches:
        if throttle is not None:
            session.delete(throttle)
        if needs_rehash(settings, stored_hash):
            # Keep every hash at the configured cost, so unknown users (checked against a
            # hash of that cost) and known ones take the same time.
            user.password_hash = hash_password(settings, password)
        user.last_sign_in_at = now
        record_audit(session=session, actor=user, action="sign_in", target=user.username, ip=ip)
        return user

    window = timedelta(minutes=settings.login_lockout_minutes)
    if throttle is None:
        throttle = SignInThrottle(username=name, failures=0, last_failure_at=now)
        session.add(throttle)
    elif throttle.last_failure_at < now - window:
        throttle.failures = 0
    throttle.failures += 1
    throttle.last_failure_at = now
    if throttle.failures >= settings.login_max_failures:
        throttle.locked_until = now + window
        throttle.failures = 0
    record_audit(
        session=session,
        actor=Operator(username="anonymous"),
        action="sign_in.failed",
        target=name,
        ip=ip,
    )
    raise SignInFailed(_("Wrong username or password."), code="bad_credentials")


# --- API tokens ---------------------------------------------------------------------


def create_api_token(
    *,
    session: Session,
    settings: Settings,
    actor: Actor,
    user: User,
    name: str,
    days: int | None = None,
) -> tuple[ApiToken, str]:
    """Make a bearer token for `user`; the secret is returned once and never stored."""
    if not user.is_active:
        raise Conflict(_("The account {username!r} is disabled.").format(username=user.username))
    name = name.strip()
    if not name or len(name) > 80:
        raise InvalidInput(_("A token needs a name of 1 to 80 characters."), code="bad_token_name")
    days = days or settings.api_token_default_days
    if not 1 <= days <= 3650:
        raise InvalidInput(_("A token lives between 1 and 3650 days."), code="bad_token_days")
    secret = new_token_secret()
    now = clock.now()
    token = ApiToken(
        id="tok_" + secrets.token_hex(8),
        user_id=user.id,
        name=name,
        token_hash=token_digest(secret),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(token)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="token.create",
        target=token.id,
        detail={"user": user.username, "name": name, "days": days},
    )
    return token, secret


def list_api_tokens(*, session: Session, user: User) -> Sequence[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
        )
    )


def revoke_api_token(
    *, session: Session, actor: Actor, token_id: str, owner: User | None = None
) -> ApiToken:
    """Revoke a token at once; `owner` limits it to that user's own tokens."""
    token = session.get(ApiToken, token_id)
    if token is None or (owner is not None and token.user_id != owner.id):
        raise NotFound(_("There is no token {token_id!r}.").format(token_id=token_id))
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        record_audit(
            session=session,
            actor=actor,
            action="token.revoke",
            target=token.id,
            detail={"user": token.user.username},
        )
    return token


def token_user(*, session: Session, secret: str) -> tuple[User, str | None]:
    """The active user behind a bearer secret, or Unauthorized; with the token's id if its
    use is to be noted (`note_token_use`: last noted longer ago than LAST_USED_RESOLUTION),
    else None. It only reads."""
    token = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == token_digest(secret))
    ).first()
    now = clock.now()
    if token is None or token.revoked_at is not None:
        raise Unauthorized(_("This API token is not valid or was revoked."), code="bad_token")
    if token.expires_at <= now:
        raise Unauthorized(_("This API token has expired."), code="token_expired")
    user = token.user
    if not user.is_active:
        raise Unauthorized(_("This account is disabled."), code="account_disabled")
    due = token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION
    return user, token.id if due else None


def note_token_use(*, session: Session, token_id: str) -> None:
    """Note a token's use now, unless another transaction is noting it at this moment
    (its row locked): that one's note will do, and a request with the same token does not
    wait for the other request's transaction to end (SKIP LOCKED on PostgreSQL; SQLite has
    one writer at a time anyway)."""
    free = (
        select(ApiToken.id)
        .where(ApiToken.id == token_id)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    session.execute(update(ApiToken).where(ApiToken.id == free).values(last_used_at=clock.now()))


def user_for_token(*, session: Session, secret: str) -> User:
    """The active user behind a bearer secret, or Unauthorized; the token's use noted in
    the same transaction (for one that writes anyway)."""
    user, due = token_user(session=session, secret=secret)
    if due is not None:
        note_token_use(session=session, token_id=due)
    return user


def active_user(*, session: Session, user_id: int, epoch: int) -> User | None:
    """The user of a session cookie, if the account is still active and the session current."""
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.session_epoch != epoch:
        return None
    return user


def has_users(*, session: Session) -> bool:
    return session.scalars(select(User.id).limit(1)).first() is not None
