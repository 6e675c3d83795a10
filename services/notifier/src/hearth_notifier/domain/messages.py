"""Messages a person can act on: what happened, where, which commit, the error, a link."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from jinja2 import Environment, StrictUndefined

from hearth_events import Envelope

NOTIFY_TYPES = {"info": "info", "success": "success", "warning": "warning", "failure": "failure"}
_env = Environment(
    undefined=StrictUndefined,
    autoescape=False,  # noqa: S701 (plain text and markdown, never HTML)
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    notify_type: str


TEMPLATES: dict[str, tuple[str, str]] = {
    "DeploymentFailed": (
        "❌ Deployment to {{ d.target }} failed",
        "**{{ d.target }}**: deployment `{{ d.deployment_id }}` failed at step "
        "**{{ d.step }}**{% if d.rolled_back %} and was rolled back{% endif %}.\n\n"
        "```\n{{ first_lines(d.reason) }}\n```",
    ),
    "ValidationFailed": (
        "❌ {{ d.target }}: the configuration does not validate",
        "Nothing was changed on **{{ d.target }}**.\n\n"
        "{% for e in d.errors[:5] %}- `{{ e.path }}{% if e.line %}:{{ e.line }}"
        "{% if e.column %}:{{ e.column }}{% endif %}{% endif %}` {{ e.message }}\n{% endfor %}"
        "{% if d.errors|length > 5 %}- … and {{ d.errors|length - 5 }} more\n{% endif %}",
    ),
    "RollbackCompleted": (
        "↩️ {{ d.target }} was rolled back",
        "**{{ d.target }}** runs its previous configuration again"
        "{% if d.commit %} (commit `{{ d.commit[:12] }}`){% endif %}.",
    ),
    "RollbackFailed": (
        "🔥 Rollback of {{ d.target }} FAILED",
        "**{{ d.target }}** could not be restored; it needs a person now.\n\n"
        "```\n{{ first_lines(d.reason) }}\n```",
    ),
    "DeploymentSucceeded": (
        "✅ {{ d.target }} deployed",
        "**{{ d.target }}** now runs commit `{{ d.commit[:12] }}` "
        "({{ (d.duration_ms / 1000)|round(1) }} s).",
    ),
    "DeviceOffline": (
        "⚠️ {{ d.device_id }} is offline",
        "Device **{{ d.device_id }}**{% if d.site %} at {{ d.site }}{% endif %} stopped "
        "answering{% if d.last_seen %} (last seen {{ d.last_seen }}){% endif %}.",
    ),
    "DeviceDrifted": (
        "⚠️ {{ d.device_id }} drifted from Git",
        "{% for diff in d.differences[:5] %}- `{{ diff.path }}`: Git says "
        "`{{ diff.desired }}`, device has `{{ diff.actual }}`\n{% endfor %}",
    ),
    "AgentOffline": (
        "⚠️ Provisioner {{ d.agent_id }} is offline",
        "The provisioning agent **{{ d.agent_id }}** at site {{ d.site }} stopped "
        "sending heartbeats.",
    ),
    "ProvisionFailed": (
        "❌ Provisioning at {{ d.site }} failed",
        "Job `{{ d.job_id }}` failed at step **{{ d.step }}**: {{ first_lines(d.reason) }}",
    ),
}
GENERIC = ("{{ e.type }} ({{ e.key }})", "{{ e.type }} for **{{ e.key }}**.")


def first_lines(text: str, count: int = 6) -> str:
    lines = text.strip().splitlines()
    more = len(lines) - count
    return "\n".join(lines[:count]) + (f"\n… ({more} more lines)" if more > 0 else "")


def _link(envelope: Envelope, dashboard_url: str) -> str:
    data = envelope.data
    if deployment := getattr(data, "deployment_id", None):
        return f"{dashboard_url}/deployments/{deployment}"
    if device := getattr(data, "device_id", None):
        return f"{dashboard_url}/devices/{device}"
    return f"{dashboard_url}/events/{envelope.event_id}"


def render(envelope: Envelope, dashboard_url: str) -> Message:
    title_t, body_t = TEMPLATES.get(envelope.type, GENERIC)
    context = {"d": envelope.data, "e": envelope, "first_lines": first_lines}
    title = _env.from_string(title_t).render(context)
    body = _env.from_string(body_t).render(context).rstrip()
    body += f"\n\n[Open in Hearth]({_link(envelope, dashboard_url)}) · {envelope.actor}"
    return Message(title, body, NOTIFY_TYPES.get(envelope.data.severity, "info"))


def render_summary(envelopes: list[Envelope], dashboard_url: str) -> Message:
    """One message for a burst: "12 devices went offline at site garage"."""
    if len(envelopes) == 1:
        return render(envelopes[0], dashboard_url)
    kinds = Counter(e.type for e in envelopes)
    sites = {getattr(e.data, "site", None) for e in envelopes}
    where = f" at site {sites.pop()}" if len(sites) == 1 and None not in sites else ""
    if kinds.keys() == {"DeviceOffline"}:
        title = f"⚠️ {len(envelopes)} devices went offline{where}"
    else:
        parts = ", ".join(f"{n} x {kind}" for kind, n in kinds.most_common())
        title = f"{len(envelopes)} events{where}: {parts}"
    keys = sorted({e.key for e in envelopes})
    body = "\n".join(f"- {key}" for key in keys[:20])
    if len(keys) > 20:
        body += f"\n- … and {len(keys) - 20} more"
    body += f"\n\n[Open in Hearth]({dashboard_url}/events)"
    worst = max(
        (e.data.severity for e in envelopes), key=["info", "success", "warning", "failure"].index
    )
    return Message(title, body, NOTIFY_TYPES.get(worst, "info"))
