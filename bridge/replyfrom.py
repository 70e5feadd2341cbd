"""``reply_from``: a brand's main account is ticketed, its public replies go out from the support account.

Airlines and telcos watch their main handle (``@Brand``) but answer from a support handle
(``@BrandSupport``). A channel names the channel that answers for it::

    [[channels]]
    name = "acme-x"
    platform = "x"
    reply_from = "acme-x-support"

Mentions of ``@Brand`` become tickets as usual (the thread stays the main channel's); an agent's reply
to a public conversation is posted by the support channel's account, as a reply to the customer's post,
and a note on the ticket says which account it went out from. A direct-message thread is answered by the
account the customer wrote to: a conversation cannot move to another account.

Only X supports it. X's self-serve API lets an account reply programmatically only to a post whose
author "summoned" it (mentioned it, replied to or quoted one of its posts): when the customer mentioned
``@Brand`` alone, X refuses ``@BrandSupport``'s reply and the agent is told why (see connectors.x).
Instagram cannot, and a channel asking for it is refused at start rather than promised: the Graph API
lets an account reply to comments only "on IG Media owned by your app users" (comment moderation guide,
developers.facebook.com/docs/instagram-api/guides/comment-moderation), and to a mention only as the
account that "has been @mentioned" (``POST /{ig-user-id}/mentions``, reference ig-user/mentions). A
support account that was not mentioned owns neither the customer's media nor the brand's, so it has no
call to answer with; its direct messages reach only people who wrote to it first (the 24-hour window).
The private hand-off on Instagram stays with the main account (a private reply to the comment).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bridge.errors import ConfigError

if TYPE_CHECKING:
    from bridge.config import ChannelConfig

#: Platforms whose public threads another channel of the same platform can answer.
PLATFORMS = ("x",)
#: Thread kinds (the part of ``thread_id`` before ``:``) that are public and may be answered by another account.
PUBLIC_THREADS = ("conversation",)


def check(channels: Sequence[ChannelConfig]) -> None:
    """Stop at start on a ``reply_from`` that names no channel, itself, a channel of another platform, a
    platform that cannot answer from another account, or a channel that itself answers from another."""
    by_name = {c.name: c for c in channels}
    for channel in channels:
        target = channel.get("reply_from")
        if target is not None:
            _check_one(channel, target, by_name)


def _check_one(channel: ChannelConfig, target: object, by_name: dict[str, ChannelConfig]) -> None:
    key = f"channels[{channel.name}].reply_from"
    other = by_name.get(target) if isinstance(target, str) else None
    if other is None or other is channel:
        raise ConfigError(f"{key}: {target!r} is not another configured channel")
    if channel.platform not in PLATFORMS:
        raise ConfigError(f"{key}: not supported on {channel.platform} (a reply cannot go out from another account)")
    if other.platform != channel.platform:
        raise ConfigError(f"{key}: {target!r} is a {other.platform} channel, not {channel.platform}")
    if other.get("reply_from") is not None:
        raise ConfigError(f"{key}: {target!r} answers from another channel itself")


def replying_channel(channels: Sequence[ChannelConfig], channel: str, thread_id: str) -> str:
    """The name of the channel that posts the replies of a thread of ``channel``: its ``reply_from`` for a
    public thread, else the channel itself."""
    section = next((c for c in channels if c.name == channel), None)
    target = section.get("reply_from") if section is not None else None
    kind = thread_id.partition(":")[0]
    return str(target) if isinstance(target, str) and kind in PUBLIC_THREADS else channel
