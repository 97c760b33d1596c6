"""Account extensions (the agents behind creatorId / userIds), shaped as GetExtensionInfoResponse.

One agent's extension is deliberately missing (deleted user) so "unknown agent" paths run.
"""

from __future__ import annotations

from sandbox.world import World

ACCOUNT_ID = "37439510"


def extension_ids(world: World) -> list[str]:
    """Existing extensions: every agent except the deleted one, plus two non-agent users."""
    agents = [e for i, e in enumerate(world.agent_ext_ids) if i != world.deleted_agent]
    base = int(world.agent_ext_ids[0])
    return agents + [str(base + 500_001), str(base + 500_002)]


def extension_json(world: World, ext_id: str, server_url: str) -> dict | None:
    if ext_id not in extension_ids(world):
        return None
    if ext_id in world.agent_ext_ids:
        agent = world.agent_ext_ids.index(ext_id)
        first, last = world.agent_name(agent)
        number = str(101 + agent)
        ext_type = "User"
    else:
        offset = int(ext_id) - int(world.agent_ext_ids[0]) - 500_000
        first, last = ("Support", "Queue") if offset == 1 else ("Front", "Desk")
        number = str(900 + offset)
        ext_type = "Department" if offset == 1 else "User"
    uri = f"{server_url}/restapi/v1.0/account/{ACCOUNT_ID}/extension/{ext_id}"
    return {
        "uri": uri,
        "id": int(ext_id),
        "extensionNumber": number,
        "contact": {
            "firstName": first,
            "lastName": last,
            "company": "Sandbox Corp",
            "email": f"{first.lower()}.{last.lower()}@sandbox-corp.example",
            "emailAsLoginName": True,
            "pronouncedName": {"type": "Default"},
        },
        "name": f"{first} {last}",
        "type": ext_type,
        "status": "Enabled",
        "setupWizardState": "Completed",
        "permissions": {
            "admin": {"enabled": ext_id == world.owner_ext_id},
            "internationalCalling": {"enabled": False},
        },
        "profileImage": {"uri": f"{uri}/profile-image"},
        "account": {"uri": f"{server_url}/restapi/v1.0/account/{ACCOUNT_ID}", "id": ACCOUNT_ID},
    }
