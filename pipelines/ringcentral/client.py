"""RingCentralClient: the only way the pipeline talks to RingCentral.

Public surface: paged iterators (contents, identities, extensions) and single reads. Everything
below (auth, limits, retries, errors) is shared, thread-safe, and hidden.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from pipelines import settings
from pipelines.ringcentral import endpoints, errors
from pipelines.ringcentral.auth import TokenManager
from pipelines.ringcentral.config import ClientSettings
from pipelines.ringcentral.paging import Page, check_sources, page_from_body
from pipelines.ringcentral.redaction import install_log_redaction
from pipelines.ringcentral.stats import ClientStats
from pipelines.ringcentral.transport import Transport

logger = logging.getLogger("pipelines.ringcentral")

ORDER_BY_VALUES = (
    "-creationTime",
    "+creationTime",
    "creationTime",
    "-lastModifiedTime",
    "+lastModifiedTime",
    "lastModifiedTime",
)


class RingCentralClient:
    """A logged-in session of one app + user. Use as a context manager: close revokes the token.

    Safe to share between threads: the token and the rate-limit budget are shared, and every
    client of the same server and app in the process uses the same limiters.
    """

    def __init__(self, client_settings: ClientSettings) -> None:
        install_log_redaction()
        self.settings = client_settings
        self._stats = ClientStats()
        self._transport = Transport(client_settings, self._stats)
        self._tokens = TokenManager(client_settings, self._transport, self._stats)
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"RingCentralClient(server={self.settings.base_url!r}, "
            f"client_id={self.settings.client_id!r})"
        )

    def __enter__(self) -> RingCentralClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Revoke the session (best effort) and close the connections."""
        if self._closed:
            return
        self._closed = True
        try:
            self._tokens.revoke()
        finally:
            self._transport.close()

    @property
    def stats(self) -> ClientStats:
        """Requests per rate-limit group, retries, 429s, logins (counted for this client)."""
        return self._stats

    def login(self) -> None:
        """Log in now (otherwise the first call does): fails fast on bad credentials."""
        self._tokens.access_token()

    # -- contents -------------------------------------------------------------------------

    def iter_content_pages(
        self,
        source_id: str | Sequence[str] | None = None,
        *,
        order_by: str = "+creationTime",
        page_token: str | None = None,
        per_page: int = endpoints.MAX_PER_PAGE,
        thread_ids: Sequence[str] | None = None,
        author_identity_ids: Sequence[str] | None = None,
        identity_group_ids: Sequence[str] | None = None,
        texts: Sequence[str] | None = None,
        status: Sequence[str] | None = None,
        content_direction: str | None = None,
    ) -> Iterator[Page]:
        """Yield pages of contents, starting at `page_token` (None = first page).

        The source filter is sent in the configured spelling (RC_SOURCE_FILTER_PARAM) and every
        returned record is checked to belong to the requested source(s): FilterIgnoredError is
        raised before a page with another source's record reaches the caller.
        """
        _check_per_page(per_page)
        if order_by not in ORDER_BY_VALUES:
            raise ValueError(f"order_by={order_by!r}: use one of {', '.join(ORDER_BY_VALUES)}")
        dialect = self.settings.source_filter_param
        names = endpoints.CONTENT_FILTER_NAMES[dialect]
        source_ids = [source_id] if isinstance(source_id, str) else list(source_id or [])
        params: dict[str, Any] = {"orderBy": order_by, "perPage": per_page}
        if source_ids:
            params[dialect] = source_ids
        for key, values in (
            ("thread_ids", thread_ids),
            ("author_identity_ids", author_identity_ids),
            ("identity_group_ids", identity_group_ids),
            ("texts", texts),
        ):
            if values:
                params[names[key]] = list(values)
        if status:
            params["status"] = list(status)
        if content_direction:
            params["contentDirection"] = content_direction

        first = True
        for page in self._iter_token_pages(endpoints.CONTENTS_PATH, params, page_token):
            if source_ids:
                check_sources(page, set(source_ids), dialect)
                if first and page_token is None and not page.records:
                    logger.warning(
                        "rc.contents source(s) %s returned no contents: if some exist, the agent "
                        "behind %s may lack Read permission on the channel",
                        ",".join(source_ids),
                        settings.RC_USER_JWT,
                    )
            first = False
            yield page

    def get_content(self, content_id: str) -> dict[str, Any]:
        """One content as the API returns it; NotFound (EDI-029/EDI-032) if absent or unreadable."""
        return self._get_json(f"{endpoints.CONTENTS_PATH}/{_segment(content_id)}")

    # -- identities -----------------------------------------------------------------------

    def iter_identity_pages(
        self,
        *,
        source_id: str | None = None,
        identity_group_ids: Sequence[str] | None = None,
        identity_type: str | None = None,
        user_id: str | None = None,
        uuid: str | None = None,
        order_by: str | None = None,
        page_token: str | None = None,
        per_page: int = endpoints.MAX_PER_PAGE,
    ) -> Iterator[Page]:
        """Yield pages of identities (customers and agents), optionally of one source."""
        _check_per_page(per_page)
        params: dict[str, Any] = {"perPage": per_page}
        if source_id:
            params[endpoints.IDENTITY_SOURCE_PARAM[self.settings.source_filter_param]] = source_id
        if identity_group_ids:
            # The only comma-separated array in this API (`explode: false`, API notes §1).
            params["identityGroupIds"] = ",".join(identity_group_ids)
        if identity_type:
            params["identityType"] = identity_type
        if user_id:
            params["userId"] = user_id
        if uuid:
            params["uuid"] = uuid
        if order_by:
            params["orderBy"] = order_by
        yield from self._iter_token_pages(endpoints.IDENTITIES_PATH, params, page_token)

    def get_identity(self, identity_id: str) -> dict[str, Any]:
        """One identity; NotFound (EDI-029/EDI-032) if absent."""
        return self._get_json(f"{endpoints.IDENTITIES_PATH}/{_segment(identity_id)}")

    # -- extensions (agents) --------------------------------------------------------------

    def get_extension(self, extension_id: str | int) -> dict[str, Any]:
        """The extension behind a `creatorId` / identity `userIds`; NotFound (CMN-102) if gone."""
        return self._get_json(f"{endpoints.EXTENSIONS_PATH}/{_segment(str(extension_id))}")

    def iter_extensions(self, *, per_page: int = endpoints.MAX_PER_PAGE) -> Iterator[dict]:
        """Yield every extension of the account (classic page-number paging)."""
        _check_per_page(per_page)
        page_number = 1
        while True:
            body = self._get_json(
                endpoints.EXTENSIONS_PATH, params={"page": page_number, "perPage": per_page}
            )
            records = body.get("records") or []
            yield from records
            paging = body.get("paging") or {}
            navigation = body.get("navigation") or {}
            total_pages = paging.get("totalPages")
            has_next = bool(navigation.get("nextPage")) or (
                isinstance(total_pages, int) and page_number < total_pages
            )
            if not records or not has_next:
                return
            page_number += 1

    # -- webhook subscriptions (API notes §9) ----------------------------------------------

    def create_subscription(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /restapi/v1.0/subscription (Medium). RingCentral does the Validation-Token
        handshake with the address before answering; a receiver that fails it is SUB-525."""
        return self._send_json("POST", endpoints.SUBSCRIPTION_PATH, body)

    def get_subscription(self, subscription_id: str) -> dict[str, Any]:
        """One subscription (Light); NotFound (SUB-507) once it is gone."""
        return self._get_json(f"{endpoints.SUBSCRIPTION_PATH}/{_segment(subscription_id)}")

    def list_subscriptions(self) -> list[dict[str, Any]]:
        """The subscriptions of this app and user (Light)."""
        return list(self._get_json(endpoints.SUBSCRIPTION_PATH).get("records") or [])

    def renew_subscription(self, subscription_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT /restapi/v1.0/subscription/{id} (Medium): new expiresIn (and filters)."""
        path = f"{endpoints.SUBSCRIPTION_PATH}/{_segment(subscription_id)}"
        return self._send_json("PUT", path, body)

    def delete_subscription(self, subscription_id: str) -> None:
        """DELETE /restapi/v1.0/subscription/{id} (Medium)."""
        path = f"{endpoints.SUBSCRIPTION_PATH}/{_segment(subscription_id)}"
        self._authorized("DELETE", path, group=endpoints.MEDIUM)

    # -- plumbing -------------------------------------------------------------------------

    def _iter_token_pages(
        self, path: str, params: dict[str, Any], page_token: str | None
    ) -> Iterator[Page]:
        token = page_token
        while True:
            query = dict(params)
            if token:
                query["pageToken"] = token
            page = page_from_body(self._get_json(path, params=query), token, f"GET {path}")
            yield page
            if page.next_page_token is None:
                return
            token = page.next_page_token

    def _get_json(self, path: str, *, params: dict[str, Any] | None = None) -> Any:
        response = self._authorized("GET", path, params=params)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            pass  # orjson is strict (UTF-8 only, 64-bit integers); the stdlib decides the rest
        try:
            return response.json()
        except ValueError:
            raise errors.ClientConfigError(
                f"GET {path} answered {response.status_code} without JSON: the server at "
                f"{self.settings.base_url} does not look like the RingCentral API; check "
                f"{settings.RC_SERVER_URL}",
                status=response.status_code,
            ) from None

    def _send_json(self, method: str, path: str, body: dict[str, Any]) -> Any:
        response = self._authorized(
            method, path, group=endpoints.MEDIUM, content=orjson.dumps(body)
        )
        return orjson.loads(response.content) if response.content else {}

    def _authorized(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        group: str = endpoints.LIGHT,
        content: bytes | None = None,
    ) -> httpx.Response:
        if self._closed:
            raise errors.RingCentralError("the client is closed; open a new RingCentralClient")
        token = self._tokens.access_token()
        try:
            return self._send(method, path, token, params, group, content)
        except errors.AuthError as exc:
            if exc.status != 401:
                raise
        # The token was refused (expired early, revoked, server restarted): log in once, retry
        # once. A second 401 means the credentials themselves are not accepted.
        token = self._tokens.renew_after_rejection(token)
        try:
            return self._send(method, path, token, params, group, content)
        except errors.AuthError as exc:
            raise errors.AuthError(
                f"{exc.message}, again after a fresh login: the user of {settings.RC_USER_JWT} "
                f"or the app of {settings.RC_APP_CLIENT_ID} is not allowed to call {path}",
                error_code=exc.error_code,
                status=exc.status,
            ) from None

    def _send(
        self,
        method: str,
        path: str,
        token: str,
        params: dict[str, Any] | None,
        group: str = endpoints.LIGHT,
        content: bytes | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        return self._transport.send(
            method, path, group=group, params=params, content=content, headers=headers
        )


def _check_per_page(per_page: int) -> None:
    if not 1 <= per_page <= endpoints.MAX_PER_PAGE:
        raise ValueError(f"per_page={per_page}: RingCentral accepts 1..{endpoints.MAX_PER_PAGE}")


def _segment(identifier: str) -> str:
    """An id as one URL path segment (ids come from API data; never let one change the path)."""
    if not identifier:
        raise ValueError("an empty id cannot be fetched")
    return quote(identifier, safe="")
