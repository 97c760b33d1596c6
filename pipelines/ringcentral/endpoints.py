"""RingCentral paths, rate-limit groups, error codes and filter spellings, declared once.

Sources: the API notes (ringcentral-api.md of the design docs) §1, §2, §5-§8, §10.
"""

from __future__ import annotations

from typing import Final

TOKEN_PATH: Final = "/restapi/oauth/token"
REVOKE_PATH: Final = "/restapi/oauth/revoke"
CONTENTS_PATH: Final = "/cx/social-messaging/v1/contents"
IDENTITIES_PATH: Final = "/cx/social-messaging/v1/identities"
EXTENSIONS_PATH: Final = "/restapi/v1.0/account/~/extension"
# Webhook subscriptions (§9): create/renew/delete are Medium, reads are Light.
SUBSCRIPTION_PATH: Final = "/restapi/v1.0/subscription"
SUBSCRIPTION_NOT_FOUND_CODE: Final = "SUB-507"

JWT_BEARER_GRANT: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REFRESH_GRANT: Final = "refresh_token"

# Rate-limit groups (§8): every social-messaging and Get Extension call is Light; OAuth is Auth.
LIGHT: Final = "Light"
MEDIUM: Final = "Medium"
HEAVY: Final = "Heavy"
AUTH: Final = "Auth"
# Documented defaults per 60 s window, used until the server's X-Rate-Limit-* headers say more.
DEFAULT_GROUP_LIMITS: Final[dict[str, int]] = {LIGHT: 50, MEDIUM: 40, HEAVY: 10, AUTH: 5}
DEFAULT_WINDOW_SECONDS: Final = 60.0
# §8: "If Retry-After is not returned, the original request should be retried in 30 seconds".
DEFAULT_RETRY_AFTER_SECONDS: Final = 30.0

MAX_PER_PAGE: Final = 1000

# The list filter for one source, by API generation (§0.2, §2.1, §2.2). The first is the default.
SOURCE_FILTER_PARAMS: Final = ("sourceIds", "source", "channelIds")
# The other list filters in the same generation's spelling, so one setting picks the dialect.
CONTENT_FILTER_NAMES: Final[dict[str, dict[str, str]]] = {
    "sourceIds": {
        "thread_ids": "threadIds",
        "author_identity_ids": "authorIdentityIds",
        "identity_group_ids": "authorIdentityGroupIds",
        "texts": "text",
    },
    "channelIds": {
        "thread_ids": "threadIds",
        "author_identity_ids": "authorIdentityIds",
        "identity_group_ids": "authorIdentityGroupIds",
        "texts": "text",
    },
    "source": {
        "thread_ids": "thread",
        "author_identity_ids": "identity",
        "identity_group_ids": "identityGroup",
        "texts": "text",
    },
}
# The identities list takes one source, singular: `channelId` (Gen-2) or `sourceId` (Gen-1), §5.1.
IDENTITY_SOURCE_PARAM: Final[dict[str, str]] = {
    "sourceIds": "sourceId",
    "source": "sourceId",
    "channelIds": "channelId",
}
# Where a content record names its source: live API `channelId`, 2024 spec `sourceId` (§3.1).
RECORD_SOURCE_FIELDS: Final = ("channelId", "sourceId")

# Error codes the client acts on (§7.3, §10).
PAGE_TOKEN_REFUSED_CODE: Final = "EDI-034"
APP_PERMISSION_CODE: Final = "CMN-401"
USER_PERMISSION_CODE: Final = "CMN-408"
EXTENSION_NOT_FOUND_CODE: Final = "CMN-102"
SOCIAL_MESSAGING_SCOPE: Final = "SocialMessaging"
