"""``/api/v1/notifications/test``: ask the notifier to send a test through its routes."""

from __future__ import annotations

import json
from typing import Any

from hearth_query_api.entrypoints.api.framework import ApiError, Call
from hearth_query_api.entrypoints.api.models import NotifyResultOut, NotifyTestIn, NotifyTestOut


class NotificationCommands:
    nc: Any

    async def test_notifications(self, call: Call) -> NotifyTestOut:
        body: NotifyTestIn = call.body
        request = {"route": body.route} if body.route else {}
        try:
            reply = await self.nc.request(
                "hearth.cmd.notify.TestNotification", json.dumps(request).encode(), timeout=60
            )
        except Exception as exc:  # no notifier running, or it did not answer in time
            raise ApiError(
                503, "notifier unavailable", f"the notifier did not answer: {type(exc).__name__}"
            ) from None
        answer = json.loads(reply.data)
        if not answer.get("ok"):
            raise ApiError(
                404 if "no route named" in answer.get("error", "") else 409,
                "cannot test",
                answer.get("error", "refused"),
            )
        return NotifyTestOut(results=[NotifyResultOut.model_validate(r) for r in answer["results"]])
