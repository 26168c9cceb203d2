"""Which Microsoft 365 tenants the bot serves: the council's own (MICROSOFT_APP_TENANT_ID) and the partner
tenants it names (MICROSOFT_ALLOWED_TENANT_IDS). Without a council tenant (local development) any goes.

Anyone can add a multi-tenant bot's id to a chat in their own tenant; activities from a tenant not
listed here are refused before anything is stored, and nobody from such a tenant is matched to the
directory by the email address in their profile.
"""

from microsoft_agents.activity import Activity

from bot.config import Settings


def allowed(settings: Settings) -> frozenset[str] | None:
    """The tenant ids accepted, or None when no council tenant is configured (no check)."""
    own = settings.microsoft_app_tenant_id.strip().lower()
    if not own:
        return None
    partners = (t.strip().lower() for t in settings.microsoft_allowed_tenant_ids.split(","))
    return frozenset({own, *(t for t in partners if t)})


def trusted(settings: Settings, tenant: str) -> bool:
    accepted = allowed(settings)
    return accepted is None or (tenant or "").strip().lower() in accepted


def of(activity: Activity) -> set[str]:
    """Every tenant the activity names (channelData.tenant.id, conversation.tenantId)."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant")
    named = {str(tenant.get("id") or "") if isinstance(tenant, dict) else ""}
    if activity.conversation is not None:
        named.add(activity.conversation.tenant_id or "")
    return {t for t in named if t}


def activity_allowed(settings: Settings, activity: Activity) -> bool:
    """False when a council tenant is configured and the activity names no tenant, or another one."""
    if allowed(settings) is None:
        return True
    named = of(activity)
    return bool(named) and all(trusted(settings, t) for t in named)
