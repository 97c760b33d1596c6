"""The HTTP surface: RingCentral API routes plus /_sandbox admin routes.

API requests go through one raw-ASGI pipeline (stats -> faults -> auth -> rate limit -> route)
because a 1000-record page must be cheap to serve; the admin routes are a Starlette Router.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool

from sandbox import extensions, files, ids
from sandbox.admin import admin_router
from sandbox.auth import AuthService, Session, TokenError, verify_jwt
from sandbox.config import SandboxConfig
from sandbox.faults import Faults, break_record
from sandbox.query import (
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    ORDER_BY,
    ContentFilter,
    candidate_rows,
    identity_rows,
    paginate,
)
from sandbox.ratelimit import RateLimiter
from sandbox.responses import dumps, edi_error, oauth_error, platform_error, send_json
from sandbox.stats import Stats
from sandbox.tokens import PageTokenError, decode_token
from sandbox.webhooks import SubscriptionError, Webhooks
from sandbox.world import World

CX = "/cx/social-messaging/v1"
_CONTENT_ID = re.compile(rf"^{CX}/contents/([^/]+)$")
_IDENTITY_ID = re.compile(rf"^{CX}/identities/([^/]+)$")
_EXTENSION = re.compile(r"^/restapi/v1\.0/account/([^/]+)/extension(?:/([^/]+))?/?$")
_FILE = re.compile(rf"^{files.FILES_PREFIX}([^/]+)(?:/[^/]*)?$")
_SUBSCRIPTION = re.compile(r"^/restapi/v1\.0/subscription(?:/([^/]+))?/?$")
STATUS_VALUES = ("New", "Assigned", "Replied", "UserReply", "UserInitiated", "Ignored")


class BadRequest(Exception):
    def __init__(self, status: int, body: dict) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body


@dataclass
class Route:
    name: str
    group: str
    handler: Callable[..., Awaitable[tuple[int, object]]] | None
    match: tuple = ()


class Params:
    """Query parameters with repeated keys and comma lists (how RingCentral SDKs send arrays)."""

    def __init__(self, query_string: bytes) -> None:
        self.multi: dict[str, list[str]] = {}
        for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
            self.multi.setdefault(key, []).append(value)

    def one(self, *names: str) -> str | None:
        for name in names:
            values = self.multi.get(name)
            if values:
                return values[-1]
        return None

    def many(self, *names: str) -> list[str] | None:
        """Union of the values of every given spelling; None when none was given."""
        found = [n for n in names if n in self.multi]
        if not found:
            return None
        out: list[str] = []
        for name in found:
            for value in self.multi[name]:
                out.extend(v.strip() for v in value.split(",") if v.strip())
        return out


def _order_by(params: Params) -> str:
    """orderBy, where a leading space is a '+' the caller did not percent-encode.

    The official Python SDK sends orderBy=+creationTime raw; form decoding turns '+' into a
    space, and RingCentral evidently accepts it (the SDK's users page fine), so we do too.
    """
    raw = params.one("orderBy") or "-creationTime"
    return "+" + raw[1:] if raw.startswith(" ") else raw


def _per_page(params: Params) -> int:
    raw = params.one("perPage")
    if raw is None or raw == "":
        return DEFAULT_PER_PAGE
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(
            400, edi_error("EDI-038", '"perPage" param is invalid', "perPage", raw)
        ) from None
    if value < 1:
        raise BadRequest(
            400, edi_error("EDI-038", '"perPage" param is invalid: must be >= 1', "perPage", raw)
        )
    return min(value, MAX_PER_PAGE)


class SandboxApp:
    def __init__(
        self,
        cfg: SandboxConfig,
        world: World,
        auth: AuthService,
        limiter: RateLimiter,
        faults: Faults,
        stats: Stats,
        webhooks: Webhooks,
    ) -> None:
        self.cfg = cfg
        self.world = world
        self.auth = auth
        self.limiter = limiter
        self.faults = faults
        self.stats = stats
        self.webhooks = webhooks
        self.server_url = ""  # set once the port is bound
        self.admin = admin_router(self)

    # ------------------------------------------------------------------ dispatch
    def route(self, method: str, path: str) -> Route | None:
        if path == f"{CX}/contents":
            if method == "GET":
                return Route("contents", "Light", self.list_contents)
            if method == "POST":
                return Route("contents", "Light", self.create_content)
            return None
        if path == f"{CX}/identities" and method == "GET":
            return Route("identities", "Light", self.list_identities)
        if method == "GET" and (m := _CONTENT_ID.match(path)):
            return Route("content", "Light", self.get_content, m.groups())
        if method == "GET" and (m := _IDENTITY_ID.match(path)):
            return Route("identity", "Light", self.get_identity, m.groups())
        if method == "GET" and (m := _EXTENSION.match(path)):
            return Route("extension", "Light", self.get_extension, m.groups())
        if method == "GET" and (m := _FILE.match(path)):
            # A signed link, not an API call: no bearer token, no API rate-limit group.
            return Route("attachment", "Files", None, m.groups())
        if path == "/restapi/oauth/token" and method == "POST":
            return Route("token", "Auth", self.token)
        if path == "/restapi/oauth/revoke" and method == "POST":
            return Route("revoke", "Auth", self.revoke)
        if m := _SUBSCRIPTION.match(path):
            group = "Light" if method == "GET" else "Medium"
            if method in ("GET", "POST", "PUT", "DELETE"):
                return Route("subscription", group, self.subscription, m.groups())
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith("/_sandbox"):
            await self.admin(scope, receive, send)
            return
        method = scope["method"]
        route = self.route(method, path)
        group = route.group if route else "Light"
        name = route.name if route else "unknown"
        self.stats.record(group, path)
        fault = self.faults.for_request(name, path)
        if self.faults.roll(fault.drop_connection_ratio):
            _drop_connection(send)
            return
        if fault.slow_seconds:
            await asyncio.sleep(fault.slow_seconds)
        if self.faults.take_burst(name, path):
            await self._send(
                send,
                429,
                platform_error("CMN-301", "Request rate exceeded"),
                [(b"retry-after", b"1"), (b"x-rate-limit-group", group.encode())],
            )
            return
        if self.faults.roll(fault.error_5xx_ratio):
            await self._send(send, 503, platform_error("CMN-201", "Service Temporary Unavailable"))
            return
        if route is None:
            await self._send(
                send,
                404,
                platform_error(
                    "CMN-102", "Resource for parameter [path] is not found", parameterName="path"
                ),
            )
            return
        if route.group == "Files":
            await self._send_file(send, route.match[0], Params(scope["query_string"]), fault)
            return
        headers = dict(scope["headers"])
        session: Session | None = None
        if group == "Auth":
            limit_key = "auth:" + _basic_client_id(headers.get(b"authorization"))
        else:
            try:
                session = self.auth.authenticate(_header(headers, b"authorization"))
            except TokenError as exc:
                await self._send(
                    send, 401, platform_error(exc.code, exc.message, top_code="TokenInvalid")
                )
                return
            limit_key = f"{session.client_id}:{session.owner_id}"
        decision = self.limiter.hit(group, limit_key)
        limit_headers = decision.headers()
        if not decision.allowed:
            await self._send(
                send, 429, platform_error("CMN-301", "Request rate exceeded"), limit_headers
            )
            return
        try:
            body = await _read_body(receive) if method in ("POST", "PUT") else b""
            status, payload = await route.handler(
                session=session, params=Params(scope["query_string"]), body=body,
                headers=headers, fault=fault, match=route.match, method=method,
            )  # fmt: skip
        except BadRequest as exc:
            status, payload = exc.status, exc.body
        await self._send(send, status, payload, limit_headers)

    async def _send(self, send, status: int, payload: object, headers=None) -> None:
        self.stats.record_status(status)
        if status == 204:
            await send({"type": "http.response.start", "status": 204, "headers": headers or []})
            await send({"type": "http.response.body", "body": b""})
            return
        await send_json(send, status, payload, headers)

    # ------------------------------------------------------------------ attachment files
    async def _send_file(self, send, attachment_id: str, params: Params, fault) -> None:
        """The attachment's bytes, streamed 1 MiB at a time, if the link is signed and fresh."""
        if fault.error_status:
            status = fault.error_status
            await self._send(send, status, platform_error(f"ATT-{status}", "Injected fault"))
            return
        world = self.world
        spec = world.attachment(attachment_id)
        if spec is None:
            await self._send(send, 404, platform_error("ATT-404", "Attachment not found"))
            return
        refusal = world.link_refusal(
            attachment_id, params.one("exp"), params.one("n"), params.one("sig")
        )
        if refusal is not None:
            await self._send(send, 403, platform_error(*refusal))
            return
        limit = None
        headers = [(b"content-type", spec.content_type.encode())]
        if fault.truncate_ratio and self.faults.roll(fault.truncate_ratio):
            limit = int(spec.size * self.faults.fraction())  # chunked: the end looks normal
        else:
            headers.append((b"content-length", str(spec.size).encode()))
        self.stats.record_status(200)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        chunks = files.blob_chunks(self.cfg.seed, spec, limit)
        while True:
            chunk = await run_in_threadpool(next, chunks, None)
            if chunk is None:
                break
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    # ------------------------------------------------------------------ contents
    async def list_contents(self, *, session, params: Params, fault, **_) -> tuple[int, object]:
        per_page = _per_page(params)
        order_by = _order_by(params)
        if order_by not in ORDER_BY or order_by == fault.refuse_order_by:
            raise BadRequest(
                400,
                edi_error(
                    "EDI-038",
                    f'"orderBy" param is invalid; use one of {list(ORDER_BY)}',
                    "orderBy",
                    order_by,
                ),
            )
        field_name, order = ORDER_BY[order_by]
        raw_token = params.one("pageToken")
        token = None
        if raw_token:
            if fault.refuse_page_tokens:
                raise BadRequest(
                    422, edi_error("EDI-034", "Invalid offset", "pageToken", raw_token)
                )
            try:
                token = decode_token(raw_token)
            except PageTokenError as exc:
                raise BadRequest(
                    400,
                    edi_error(
                        "EDI-038", f'"pageToken" param is invalid: {exc}', "pageToken", raw_token
                    ),
                ) from None
            field_name, order = token.field, token.order
        source_names = [n for n in ("sourceIds", "source", "channelIds", "sourceId", "channelId")
                        if n != fault.ignore_source_filter]  # fmt: skip
        statuses = params.many("status")
        if statuses is not None:
            bad = [s for s in statuses if s not in STATUS_VALUES]
            if bad:
                raise BadRequest(
                    400, edi_error("EDI-028", "Search query is invalid", "status", bad[0])
                )
        direction = params.one("contentDirection")
        if direction is not None and direction not in ("Incoming", "Outgoing"):
            raise BadRequest(
                400, edi_error("EDI-028", "Search query is invalid", "contentDirection", direction)
            )
        flt = ContentFilter(
            source_ids=params.many(*source_names),
            author_ids=params.many("authorIdentityIds", "identity", "authorIdentityId"),
            thread_ids=params.many("threadIds", "thread"),
            texts=[t for t in (params.multi.get("texts", []) + params.multi.get("text", [])) if t],
            group_ids=params.many("authorIdentityGroupIds", "identityGroup"),
            intervention_ids=params.many("interventionIds", "intervention"),
            statuses=statuses,
            direction=direction,
        )
        world = self.world
        with world.lock:
            rows, _ = candidate_rows(world, flt, field_name)
            page = paginate(world, rows, field_name, order, per_page, token)
            records = [world.row_json(r) for r in page.rows]
        if fault.malformed_ratio:
            records = [
                break_record(rec, row)
                if self.faults.is_malformed(row, fault.malformed_ratio)
                else rec
                for rec, row in zip(records, page.rows, strict=True)
            ]
        return 200, dumps({"records": records, "paging": page.paging})

    def _visible_row(self, content_id: str) -> int:
        if not ids.is_object_id(content_id):
            raise BadRequest(
                404, edi_error("EDI-032", f"Invalid id: [{content_id}]", "contentId", content_id)
            )
        row = self.world.row_of(content_id)
        if row is None or not self.world.sources[int(self.world.source[row])].can_read:
            # no Read on the source: 404, not 403 (ED semantics, API notes §4.1)
            raise BadRequest(
                404, edi_error("EDI-029", "Resource not found", "contentId", content_id)
            )
        return row

    async def get_content(self, *, match, fault, **_) -> tuple[int, object]:
        row = self._visible_row(match[0])
        with self.world.lock:
            record = self.world.row_json(row)
        if fault.malformed_ratio and self.faults.is_malformed(row, fault.malformed_ratio):
            record = break_record(record, row)
        return 200, record

    async def create_content(self, *, session, body: bytes, **_) -> tuple[int, object]:
        try:
            request = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise BadRequest(
                400, edi_error("EDI-030", "Invalid format: request body is not valid JSON")
            ) from None
        if not isinstance(request, dict):
            raise BadRequest(
                400, edi_error("EDI-030", "Invalid format: request body must be a JSON object")
            )
        text = request.get("body")
        if text is not None and not isinstance(text, str):
            raise BadRequest(400, edi_error("EDI-031", "Invalid value", "body", text))
        world = self.world
        agent = (
            world.agent_ext_ids.index(session.owner_id)
            if session.owner_id in world.agent_ext_ids
            else 0
        )
        reply_to = request.get("inReplyToContentId")
        if reply_to is not None:
            if not isinstance(reply_to, str):
                raise BadRequest(
                    400, edi_error("EDI-031", "Invalid value", "inReplyToContentId", reply_to)
                )
            row = self._visible_row(reply_to)
            source = world.sources[int(world.source[row])]
            if not source.can_reply:
                raise BadRequest(
                    403, edi_error("EDI-019", "Agent is not authorized to reply on this channel.")
                )
            if not text and "templateName" not in request:
                raise BadRequest(400, edi_error("EDI-009", "[body] is required", "body"))
            new_id = await run_in_threadpool(world.reply, reply_to, text, agent)
        else:
            source_id = request.get("channelId", request.get("sourceId"))
            if source_id is None:
                raise BadRequest(
                    400,
                    edi_error("EDI-025", 'Missing required parameter: "channelId"', "channelId"),
                )
            source = world.source_by_id(source_id) if isinstance(source_id, str) else None
            if source is None or not source.can_read:
                raise BadRequest(
                    404, edi_error("EDI-029", "Resource not found", "channelId", source_id)
                )
            if not source.can_initiate:
                raise BadRequest(
                    403,
                    edi_error(
                        "EDI-017",
                        "Agent is not authorized to create a new discussion on this channel.",
                    ),
                )
            if not text and "templateName" not in request:
                raise BadRequest(400, edi_error("EDI-009", "[body] is required", "body"))
            new_id = await run_in_threadpool(world.initiate, source_id, text, agent)
        return 201, world.content_json(new_id)

    # ------------------------------------------------------------------ identities
    async def list_identities(self, *, params: Params, **_) -> tuple[int, object]:
        per_page = _per_page(params)
        order_by = _order_by(params)
        if order_by not in ("-creationTime", "+creationTime", "creationTime"):
            raise BadRequest(
                400, edi_error("EDI-038", '"orderBy" param is invalid', "orderBy", order_by)
            )
        _, order = ORDER_BY[order_by]
        token = None
        raw_token = params.one("pageToken")
        if raw_token:
            try:
                token = decode_token(raw_token)
            except PageTokenError as exc:
                raise BadRequest(
                    400,
                    edi_error(
                        "EDI-038", f'"pageToken" param is invalid: {exc}', "pageToken", raw_token
                    ),
                ) from None
            order = token.order
        identity_type = params.one("identityType")
        if identity_type is not None and identity_type not in ("Agent", "Customer"):
            raise BadRequest(
                400, edi_error("EDI-028", "Search query is invalid", "identityType", identity_type)
            )
        world = self.world
        with world.lock:
            rows, keys = identity_rows(
                world,
                params.many("channelId", "sourceId", "channelIds", "sourceIds"),
                identity_type,
                params.one("userId"),
                params.many("identityGroupIds", "identityGroupId"),
                params.one("uuid"),
            )
            page = paginate(world, rows, "creationTime", order, per_page, token, ids.IDENTITY, keys)
            records = [world.identity_json(r) for r in page.rows]
        return 200, dumps({"records": records, "paging": page.paging})

    async def get_identity(self, *, match, **_) -> tuple[int, object]:
        identity_id = match[0]
        if not ids.is_object_id(identity_id):
            raise BadRequest(
                404, edi_error("EDI-032", f"Invalid id: [{identity_id}]", "identityId", identity_id)
            )
        world = self.world
        row = world.codec.decode(ids.IDENTITY, identity_id)
        if (
            row is None
            or row >= world.identity_count
            or not world.sources[world.identity_source(row)].can_read
        ):
            raise BadRequest(
                404, edi_error("EDI-029", "Resource not found", "identityId", identity_id)
            )
        return 200, world.identity_json(row)

    # ------------------------------------------------------------------ extensions
    async def get_extension(self, *, session, params: Params, match, **_) -> tuple[int, object]:
        account, ext_id = match
        if account not in ("~", extensions.ACCOUNT_ID):
            message = "Resource for parameter [accountId] is not found"
            raise BadRequest(404, platform_error("CMN-102", message, parameterName="accountId"))
        if ext_id is None:
            return 200, self._extension_list(params)
        if ext_id == "~":
            ext_id = session.owner_id
        record = extensions.extension_json(self.world, ext_id, self.server_url)
        if record is None:
            raise BadRequest(
                404,
                platform_error(
                    "CMN-102",
                    "Resource for parameter [extensionId] is not found",
                    parameterName="extensionId",
                ),  # fmt: skip
            )
        return 200, record

    def _extension_list(self, params: Params) -> dict:
        try:
            page = int(params.one("page") or 1)
            per_page = int(params.one("perPage") or 100)
        except ValueError:
            raise BadRequest(
                400, platform_error("CMN-101", "Parameter [page/perPage] value is invalid")
            ) from None
        if page < 1 or per_page < 1:
            raise BadRequest(
                400, platform_error("CMN-101", "Parameter [page/perPage] value is invalid")
            )
        per_page = min(per_page, 1000)
        all_ids = extensions.extension_ids(self.world)
        total = len(all_ids)
        total_pages = max(1, -(-total // per_page))
        chunk = all_ids[(page - 1) * per_page : page * per_page]
        base = f"{self.server_url}/restapi/v1.0/account/{extensions.ACCOUNT_ID}/extension"

        def nav(p: int) -> dict:
            return {"uri": f"{base}?page={p}&perPage={per_page}"}

        navigation = {"firstPage": nav(1), "lastPage": nav(total_pages)}
        if page < total_pages:
            navigation["nextPage"] = nav(page + 1)
        if page > 1:
            navigation["previousPage"] = nav(page - 1)
        paging = {
            "page": page,
            "totalPages": total_pages,
            "perPage": per_page,
            "totalElements": total,
        }
        if chunk:
            paging["pageStart"] = (page - 1) * per_page
            paging["pageEnd"] = (page - 1) * per_page + len(chunk) - 1
        return {
            "uri": f"{base}?page={page}&perPage={per_page}",
            "records": [extensions.extension_json(self.world, e, self.server_url) for e in chunk],
            "paging": paging,
            "navigation": navigation,
        }

    # ------------------------------------------------------------------ oauth
    def _client_ok(self, headers: dict) -> dict | None:
        """None if the Basic client credentials are right, else the error body."""
        raw = _header(headers, b"authorization")
        if not raw:
            return oauth_error("invalid_client", "OAU-123", "Client authentication is required")
        scheme, _, encoded = raw.partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return oauth_error("invalid_client", "OAU-123", "Invalid Authorization header value")
        if scheme.lower() != "basic" or not self.auth.check_client(client_id, secret):
            return oauth_error("invalid_client", "OAU-146", "Invalid client credentials")
        return None

    async def token(self, *, headers: dict, body: bytes, **_) -> tuple[int, object]:
        problem = self._client_ok(headers)
        if problem is not None:
            return 401, problem
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        grant = form.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            claims = verify_jwt(form.get("assertion", ""), self.auth.credentials.signing_key)
            if claims is None:
                return 400, oauth_error(
                    "invalid_grant", "OAU-140", "Invalid resource owner credentials"
                )
            session = self.auth.login(claims["sub"])
        elif grant == "refresh_token":
            session = self.auth.refresh(form.get("refresh_token", ""))
            if session is None:
                return 400, oauth_error("invalid_grant", "OAU-211", "Token is revoked or expired")
        else:
            return 400, oauth_error(
                "unsupported_grant_type", "OAU-250", f"Unsupported grant type: {grant!r}"
            )
        return 200, {
            "access_token": session.access_token,
            "token_type": "bearer",
            "expires_in": int(self.auth.access_ttl),
            "refresh_token": session.refresh_token,
            "refresh_token_expires_in": int(self.auth.refresh_ttl),
            "scope": "ReadAccounts SocialMessaging SubscriptionWebhook",
            "owner_id": session.owner_id,
            "endpoint_id": f"sbx-{session.session_id[:8]}",
            "session_id": session.session_id,
            "session_expires_in": int(self.auth.refresh_ttl),
        }

    async def revoke(
        self, *, headers: dict, body: bytes, params: Params, **_
    ) -> tuple[int, object]:
        problem = self._client_ok(headers)
        if problem is not None:
            return 401, problem
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        token = form.get("token") or params.one("token")
        if not token:
            return 400, oauth_error("invalid_request", "OAU-101", "Parameter [token] is required")
        self.auth.revoke(token)
        return 200, b""

    # ------------------------------------------------------------------ subscriptions
    async def subscription(
        self, *, session, body: bytes, match, method: str, **_
    ) -> tuple[int, object]:
        sub_id = match[0]
        hooks = self.webhooks
        if method == "POST" and sub_id is None:
            try:
                request = json.loads(body or b"null")
            except (ValueError, UnicodeDecodeError):
                raise BadRequest(
                    400, platform_error("CMN-101", "Request body is not valid JSON")
                ) from None
            try:
                sub = await run_in_threadpool(hooks.create, request, session.owner_id)
            except SubscriptionError as exc:
                raise BadRequest(exc.status, platform_error(exc.code, exc.message)) from None
            return 200, sub.info(self.server_url)
        if method == "GET" and sub_id is None:
            return 200, {
                "uri": f"{self.server_url}/restapi/v1.0/subscription",
                "records": [s.info(self.server_url) for s in hooks.list()],
            }
        sub = hooks.get(sub_id) if sub_id else None
        if sub is None:
            raise BadRequest(
                404,
                platform_error("SUB-507", "Subscription not found", parameterName="subscriptionId"),
            )
        if method == "GET":
            return 200, sub.info(self.server_url)
        if method == "DELETE":
            hooks.delete(sub_id)
            return 204, b""
        if method == "PUT":
            try:
                request = json.loads(body or b"null")
                renewed = hooks.renew(sub_id, request)
            except (ValueError, UnicodeDecodeError):
                raise BadRequest(
                    400, platform_error("CMN-101", "Request body is not valid JSON")
                ) from None
            except SubscriptionError as exc:
                raise BadRequest(exc.status, platform_error(exc.code, exc.message)) from None
            if renewed is None:
                raise BadRequest(
                    404,
                    platform_error(
                        "SUB-507", "Subscription not found", parameterName="subscriptionId"
                    ),
                )
            return 200, renewed.info(self.server_url)
        raise BadRequest(405, platform_error("CMN-405", f"Method {method} is not allowed here"))


def _header(headers: dict, name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value is not None else None


def _basic_client_id(value: bytes | None) -> str:
    if not value:
        return "anonymous"
    try:
        return base64.b64decode(value.split(b" ", 1)[1]).decode().partition(":")[0] or "anonymous"
    except (IndexError, binascii.Error, UnicodeDecodeError, ValueError):
        return "anonymous"


async def _read_body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _drop_connection(send) -> None:
    """Close the TCP connection with no response at all (a test double for a network fault).

    uvicorn's send is a bound method of the request cycle, which holds the transport; aborting
    it makes the client see a connection reset / protocol error, as with a crashed proxy.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("drop_connection fault needs uvicorn's request cycle")
    cycle.response_complete = True  # stop uvicorn from writing a 500 afterwards
    transport.abort()
