"""A channel whose user took the app's access away (X's ``user_event`` / ``oauth.revoke``): remembered in
the store's settings so that ``socialdesk doctor`` can say why the channel can no longer reply.

The setting ``x_revoked:<user id>`` holds when it happened and a fingerprint of the credentials in use
then (a truncated SHA-256, not the credentials): once the operator has authorised the app again and put
the new tokens in the configuration, the fingerprint no longer matches and the warning goes away by
itself, with nothing to clear by hand.
"""

from __future__ import annotations

import hashlib

from bridge.config import ChannelConfig
from bridge.store import Store

CREDENTIALS = ("consumer_key", "access_token", "bearer_token")


def setting_key(platform: str, account_id: str) -> str:
    return f"{platform}_revoked:{account_id}"


def fingerprint(channel: ChannelConfig) -> str:
    """Names the credentials a channel uses, without revealing them."""
    joined = "\n".join(channel.secret(key) or "" for key in CREDENTIALS)
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def record(store: Store, channel: ChannelConfig, account_id: str, when: str) -> None:
    """Remember that the user of ``channel`` revoked the app's access at ``when`` (the platform's time)."""
    store.set_setting(setting_key(channel.platform, account_id), f"{when}|{fingerprint(channel)}")


def revoked_at(store: Store, channel: ChannelConfig, account_id: str) -> str | None:
    """When the access behind the channel's current credentials was revoked; None when it was not."""
    value = store.setting(setting_key(channel.platform, account_id)) or ""
    when, _, used = value.rpartition("|")
    return when if when and used == fingerprint(channel) else None
