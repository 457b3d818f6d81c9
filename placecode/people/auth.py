"""How a request names its citizen: a person token as `Authorization: Bearer <JWT>`, or the
cookie the citizen pages set."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from placecode.accounts.authz import check_csrf
from placecode.accounts.security import TOKEN_PREFIX
from placecode.errors import Unauthorized
from placecode.i18n import _
from placecode.people.identity import IdentityBook, PersonClaim
from placecode.web.deps import SAFE_METHODS

PERSON_COOKIE = "placecode_person"


def get_identities(request: Request) -> IdentityBook:
    identities: IdentityBook = request.app.state.identities
    return identities


def person_token(request: Request) -> tuple[str | None, bool]:
    """The token and whether it came in the cookie."""
    authorization = request.headers.get("authorization", "")
    scheme, _sep, credential = authorization.partition(" ")
    if scheme.lower() == "bearer" and credential and not credential.startswith(TOKEN_PREFIX):
        return credential.strip(), False
    cookie = request.cookies.get(PERSON_COOKIE)
    return (cookie, True) if cookie else (None, False)


async def current_person(request: Request) -> PersonClaim:
    """The citizen behind the request, or 401.

    A token seen lately is recognised from memory; only a new one (or a stale cache)
    costs a database session and a trip to the thread pool.
    """
    token, from_cookie = person_token(request)
    if not token:
        raise Unauthorized(
            _("Sign in as a citizen first (随申办, WeChat, Alipay or this site)."),
            code="citizen_not_signed_in",
        )
    identities = get_identities(request)
    claim = identities.cached(token)
    if claim is None:
        claim = await run_in_threadpool(identify, request, token)
    if from_cookie and request.method not in SAFE_METHODS:
        await check_csrf(request)
    return claim


def identify(request: Request, token: str) -> PersonClaim:
    with request.app.state.db.sessions() as session:
        return get_identities(request).identify(session=session, token=token)


CurrentPerson = Annotated[PersonClaim, Depends(current_person)]
