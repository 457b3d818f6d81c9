"""Schemathesis against the app's own OpenAPI, signed in as a district admin, and again
as a CDC analyst over the operations only the CDC may call (health and tracing).

Every operation gets generated (valid and invalid) input; any 5xx, undocumented status
or answer that breaks its schema fails. New endpoints are covered without a line here.
"""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from placecode.accounts.models import Role
from placecode.checkins.writer import make_writer
from placecode.config import Settings, load_settings
from placecode.db import Database
from placecode.web.app import create_app
from tests.conftest import Databases, make_persona, prepare

# The schema is read when the module is collected; the database behind the app is set up
# by the fixture below (schemathesis' fixture-based loader does not run on pytest 9). The
# schema comes from the app object rather than a request, so that the app's lifespan
# (which loads keys from the database) starts at the first call, after the fixture.
_boot = load_settings(
    env="test",
    database_url="sqlite://",
    secret_key="f" * 40,
    pepper="p" * 40,
    log_level="WARNING",
    scheduler=False,
)
app = create_app(_boot, Database.connect(_boot))
schema = schemathesis.openapi.from_dict(app.openapi())
schema.app = app
schema.location = "/openapi.json"


@pytest.fixture(scope="module")
def auth(
    databases: Databases, make_settings: Callable[..., Settings]
) -> Iterator[dict[Role, dict[str, str]]]:
    # A database of its own: the fuzzer's writes are committed, as in real use.
    app_settings = make_settings(database_url=databases.new_url(), login_max_failures=10_000)
    database = Database.connect(app_settings)
    prepare(database.engine)
    with database.session() as session:
        admin = make_persona(session, app_settings, "fuzz-admin", Role.district_admin)
        cdc = make_persona(session, app_settings, "fuzz-cdc", Role.cdc_analyst)
    app.state.settings, app.state.db = app_settings, database
    app.state.writer = make_writer(app_settings, database)
    yield {Role.district_admin: admin.auth, Role.cdc_analyst: cdc.auth}
    database.dispose()


@schemathesis.check
def valid_requests_pass_validation(ctx: Any, response: Any, case: Any) -> bool | None:
    """Input the schema calls valid must not be refused as not fitting the schema.

    This catches the API edge being stricter than its own documentation (say, a strict
    model refusing an enum's JSON text); services may still refuse valid input on their
    rules, with their own error codes.
    """
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    if response.json().get("error") == "invalid_request":
        raise AssertionError(f"schema-valid input refused: {response.text[:300]}")
    return None


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    valid_requests_pass_validation,
]


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_never_fails_on_any_input(case: Any, auth: dict[Role, dict[str, str]]) -> None:
    case.call_and_validate(headers=auth[Role.district_admin], checks=CHECKS)


@schema.include(tag_regex="^(health|tracing)$").parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_cdc_api_never_fails_on_any_input(case: Any, auth: dict[Role, dict[str, str]]) -> None:
    case.call_and_validate(headers=auth[Role.cdc_analyst], checks=CHECKS)
