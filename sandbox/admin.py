"""/_sandbox/* admin routes: the sb.world / sb.faults / sb.stats API for other processes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, Router

from sandbox.world import ContentNotFound

if TYPE_CHECKING:
    from sandbox.app import SandboxApp


def admin_router(app: SandboxApp) -> Router:
    world = app.world

    async def body_of(request: Request) -> dict:
        raw = await request.body()
        if not raw:
            return {}
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("request body must be a JSON object")
        return data

    def guarded(handler):
        async def wrapper(request: Request) -> JSONResponse:
            try:
                return JSONResponse(await handler(request))
            except (ContentNotFound, KeyError) as exc:
                return JSONResponse({"error": f"not found: {exc}"}, status_code=404)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)

        return wrapper

    async def health(request: Request) -> dict:
        return {"ok": True, "contents": world.row_count}

    async def env(request: Request) -> dict:
        return app.env

    async def stats(request: Request) -> dict:
        return app.stats.snapshot()

    async def reset_stats(request: Request) -> dict:
        app.stats.reset()
        return {"ok": True}

    async def faults(request: Request) -> dict:
        if request.method == "POST":
            data = await body_of(request)
            if data.get("clear"):
                app.faults.clear(data.get("endpoint"))
            if data.get("expire_tokens"):
                app.faults.expire_tokens_now()
            if data.get("expire_links"):
                app.faults.expire_links_now()
            if "settings" in data:
                app.faults.set(data.get("endpoint", "*"), **data["settings"])
        return app.faults.snapshot()

    async def add(request: Request) -> dict:
        data = await body_of(request)
        source_id = data.get("sourceId") or data.get("channelId")
        new_id = world.add_content(
            source_id, body=data.get("body"), customer=data.get("customer"),
            thread_id=data.get("threadId"),
        )  # fmt: skip
        return {"id": new_id}

    async def initiate(request: Request) -> dict:
        data = await body_of(request)
        return {
            "id": world.initiate(data.get("sourceId") or data.get("channelId"), data.get("body"))
        }

    async def reply(request: Request) -> dict:
        data = await body_of(request)
        return {"id": world.reply(request.path_params["cid"], data.get("body"))}

    async def edit(request: Request) -> dict:
        data = await body_of(request)
        world.edit_content(request.path_params["cid"], body=data.get("body"))
        return world.content_json(request.path_params["cid"])

    async def delete(request: Request) -> dict:
        world.delete_remotely(request.path_params["cid"])
        return world.content_json(request.path_params["cid"])

    async def status(request: Request) -> dict:
        data = await body_of(request)
        world.set_status(request.path_params["cid"], data.get("status"))
        return world.content_json(request.path_params["cid"])

    async def content(request: Request) -> dict:
        return world.content_json(request.path_params["cid"])

    async def content_ids(request: Request) -> dict:
        return {"ids": sorted(world.content_ids(request.query_params["sourceId"]))}

    routes = [
        Route("/_sandbox/health", guarded(health)),
        Route("/_sandbox/env", guarded(env)),
        Route("/_sandbox/stats", guarded(stats)),
        Route("/_sandbox/reset-stats", guarded(reset_stats), methods=["POST"]),
        Route("/_sandbox/faults", guarded(faults), methods=["GET", "POST"]),
        Route("/_sandbox/contents", guarded(add), methods=["POST"]),
        Route("/_sandbox/content-ids", guarded(content_ids)),
        Route("/_sandbox/initiate", guarded(initiate), methods=["POST"]),
        Route("/_sandbox/contents/{cid}", guarded(content)),
        Route("/_sandbox/contents/{cid}/reply", guarded(reply), methods=["POST"]),
        Route("/_sandbox/contents/{cid}/edit", guarded(edit), methods=["POST"]),
        Route("/_sandbox/contents/{cid}/delete", guarded(delete), methods=["POST"]),
        Route("/_sandbox/contents/{cid}/status", guarded(status), methods=["POST"]),
    ]
    return Router(routes=routes)
