"""Responses validate against RingCentral's published OpenAPI schemas (spec 1.0.58).

In spec2024 field mode with quirks off the sandbox must satisfy the schemas strictly; with
quirks on (the default, like the live API) nulls in "required" fields are expected to fail.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from tests.sandbox.support import CONTENTS, IDENTITIES, api_client, login

SPEC_DIR = Path(__file__).parent / "openapi"


def _validator(spec_file: str, schema_name: str) -> OAS30Validator:
    spec = yaml.safe_load((SPEC_DIR / spec_file).read_text())
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    return OAS30Validator(root)


@pytest.fixture(scope="module")
def strict_sandbox():
    from sandbox.config import SandboxConfig
    from sandbox.server import SandboxServer

    cfg = SandboxConfig(seed=3, contents=800, field_mode="spec2024", quirks=False,
                        light_limit=10_000, window_seconds=1.0)  # fmt: skip
    with SandboxServer(cfg) as sb:
        yield sb


def _errors(validator: OAS30Validator, instance) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)][:5]


def test_contents_list_and_item_are_schema_valid(strict_sandbox):
    content_list = _validator("ringcentral-contents-api-openapi.yml", "ContentList")
    content = _validator("ringcentral-contents-api-openapi.yml", "ContentModel")
    with api_client(strict_sandbox) as api:
        body = api.get(CONTENTS, params={"perPage": 1000}).json()
        assert len(body["records"]) > 500  # all readable contents (the hidden source is not)
        assert _errors(content_list, body) == []
        one = api.get(f"{CONTENTS}/{body['records'][0]['id']}").json()
        assert _errors(content, one) == []
        assert "sourceId" in one and "channelId" not in one and "contentDirection" not in one


def test_identities_are_schema_valid(strict_sandbox):
    identities = _validator("ringcentral-identities-api-openapi.yml", "IdentitiesList")
    with api_client(strict_sandbox) as api:
        body = api.get(IDENTITIES, params={"perPage": 1000}).json()
        assert body["records"] and _errors(identities, body) == []


def test_token_and_error_bodies_are_schema_valid(strict_sandbox):
    token = _validator("ringcentral-oauth-2-0-openid-connect-api-openapi.yml", "TokenInfo")
    assert _errors(token, login(strict_sandbox)) == []
    api_error = _validator("ringcentral-contents-api-openapi.yml", "ApiErrorResponseModel")
    with api_client(strict_sandbox) as api:
        for response in (
            api.get(CONTENTS, params={"pageToken": "zzz"}),
            api.get(f"{CONTENTS}/nope"),
            api.post(CONTENTS, content=b"{", headers={"Content-Type": "application/json"}),
            httpx.get(f"{strict_sandbox.url}{CONTENTS}"),
        ):
            assert response.status_code >= 400
            assert _errors(api_error, response.json()) == []


def test_live_quirks_break_the_strict_schema_as_the_real_api_does(sandbox, api):
    content = _validator("ringcentral-contents-api-openapi.yml", "ContentModel")
    record = api.get(CONTENTS, params={"perPage": 1, "status": "New"}).json()["records"][0]
    assert record["channelId"] and record["contentDirection"] == "Incoming"
    assert record["creatorId"] is None and "Text" in record["bodyFormatted"]
    assert record["identityGroupId"]
    assert _errors(content, record)  # sourceId missing, nulls in required fields
