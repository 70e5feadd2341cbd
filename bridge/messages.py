"""Every sentence the bridge writes for a human (ticket subjects, notes, CLI lines) in one place."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from bridge.events import AgentReply, SocialEvent

PLATFORM_NAMES = {
    "facebook": "Facebook",
    "instagram": "Instagram",
    "whatsapp": "WhatsApp",
    "x": "X",
    "telegram": "Telegram",
    "generic": "",
}


def where(event: SocialEvent) -> str:
    """ "Facebook comment", "Messenger message", "X post", "WhatsApp message"... for subjects and notes."""
    if event.platform == "facebook" and event.thread_id.startswith(("messenger:", "messenger-guest:")):
        return "Messenger message"
    if event.platform == "generic":
        return f"Message on {event.channel}"
    noun = "comment" if _of_a_comment(event) else "message"
    if event.platform == "x":  # the thread tells: an edit or removal of a post is no direct message
        noun = "direct message" if event.thread_id.startswith("dm:") else "post"
    return f"{PLATFORM_NAMES.get(event.platform, event.platform)} {noun}"


#: Threads of comments (a page's feed: a comment's or a visitor post's; Instagram's comments): a removal in one
#: carries no word of what it removes, its thread tells.
_COMMENT_THREADS = ("comment:", "post:")


def _of_a_comment(event: SocialEvent) -> bool:
    """A comment, or an edit or a removal of one: an edit says what it edits (``edited_kind``; its own kind is
    "edit", and a comment's edit was named a "Facebook message" in its note)."""
    if event.kind == "comment" or event.extra.get("edited_kind") == "comment":
        return True
    return event.kind in ("edit", "remove") and event.thread_id.startswith(_COMMENT_THREADS)


def first_words(text: str, limit: int = 60) -> str:
    """The start of ``text`` on one line, to name a message without quoting all of it."""
    return " ".join(text.split())[:limit]


#: ``[calendars.<name>] hours = []``: a calendar must open; around the clock is an interval or no calendar at all.
NO_OPENING = (
    'at least one opening; for a channel answered around the clock use ["mon-sun 00:00-24:00"], or give the '
    "channel no calendar"
)


def moment_expected(value: str) -> str:
    """``rules explain --at``: what to write instead of ``value`` (the offset is what is usually missing)."""
    return f"{value!r}: write a date and time with its UTC offset, e.g. 2026-12-24T23:00+01:00 (Z for UTC)"


def not_utf8_lines(count: int, first: int) -> str:
    """``socialdesk classify``: input lines that were not UTF-8 (answered with their stray bytes replaced)."""
    lines = "line" if count == 1 else f"{count} lines, the first"
    return f"{lines} {first}: not UTF-8 text; classified with the undecodable bytes read as U+FFFD"


def unknown_channel(name: str, names: Sequence[str]) -> str:
    """``--channel`` of ``report`` and ``rules explain``: a name not in ``[[channels]]``, and the names that are."""
    return f"{name!r} is not a configured channel (configured: {', '.join(names) or 'none'})"


def ambiguous_agent(name: str, helpdesk: str) -> str:
    """A configured agent name that several agents of the helpdesk carry (it would pick one of them at random)."""
    return f"{name!r} is the name of several agents in {helpdesk}: give the email (or the id) of the one meant"


def unknown_agents(names: Sequence[str], helpdesk: str) -> str:
    """Configured agents (names or emails) the helpdesk does not have: all of them in one line."""
    listed = ", ".join(map(repr, names))
    return f"no agent{'s' if len(names) > 1 else ''} {listed} in {helpdesk}"


def sync_dry_run(send: int, deleted: int, helpdesk: str, on_delete: str) -> str:
    """``sync-contacts --dry-run``: what a run would do (it printed "created 0, updated 0", which said nothing)."""
    line = f"dry run: {send} contact(s) would be sent to {helpdesk} (each created or updated there)"
    if on_delete != "ignore":
        verb = "tagged" if on_delete == "tag" else "suspended and tagged"
        line += f"; {deleted} deleted in Salesforce would be {verb} where {helpdesk} has their user"
    return line + "; nothing was changed"


def sync_field_left_out(key: str, field: str, helpdesk: str) -> str:
    """``sync-contacts``: a mapped user field the helpdesk does not have. Zendesk drops an unknown user field
    without a word, so the sync said "updated" of values that went nowhere; Freshdesk refuses each write."""
    return (f"{key}: {helpdesk} has no user field {field!r}: left out of every user this run (create it in "
            f"{helpdesk}, or correct the key; `socialdesk doctor` checks every mapped field)")  # fmt: skip


def sync_value_refused(key: str, field: str, helpdesk: str, contacts: Sequence[str]) -> str:
    """``sync-contacts``: a user field whose value the helpdesk refused for some Contacts (not among a dropdown's
    options, text in a number or date field), written without it: one line a run, not one per Contact. The values
    are not said (a Contact's data); a few Contacts are, to find them in the CRM."""
    more = f" and {len(contacts) - 3} more" if len(contacts) > 3 else ""
    shown = ", ".join(key_shown(c) for c in sorted(contacts)[:3]) + more
    return (f"{key}: {helpdesk} refused the value of user field {field!r} for {len(contacts)} contact(s) ({shown}): "
            f"left out of their user, their other fields written (the CRM's value is not one the field takes: "
            f"compare its type and options in {helpdesk} with the values in Salesforce)")  # fmt: skip


#: The end of a retry's reason after the helpdesk refused a ticket's requester (``inbound._requester_refused``):
#: found in the inbox row's ``last_error`` by the next attempt, so that a second refusal is a dead letter, not a loop.
REQUESTER_FORGOTTEN = "the remembered user is forgotten: the next attempt finds or makes a live one"


def requester_refused_twice(reason: str) -> str:
    """A dead letter's reason: the requester refused again after the remembered user was forgotten."""
    return (f"the requester was refused twice ({reason}), the second time after the remembered user was forgotten: "
            "check the customer's user in the helpdesk (suspended?), then replay")  # fmt: skip


def routing_refused_note(reason: str) -> str:
    """An internal note: the helpdesk refused the group, assignee or brand the triage rules chose."""
    return (
        f"socialdesk could not route this ticket as the triage rules decided ({reason}): it was written without "
        "their group, assignee and brand. Check the rules' names (`socialdesk rules check`)."
    )


def ticket_subject(event: SocialEvent) -> str:
    first_line = first_words(event.text)
    subject = f"{where(event)} from {event.author.display_name()}"
    return f"{subject}: {first_line}" if first_line else subject


def customer_body(event: SocialEvent) -> str:
    """The customer's words, then what the agent needs to find the post (attachments, link). An edit whose
    original never reached the bridge is marked as one."""
    lines = [f"[edited] {event.text}" if event.extra.get("edited") else event.text or "(no text)"]
    for attachment in event.attachments:
        lines.append(f"[{attachment.kind}] {attachment.url}")
    lines += refused_details(event)
    footer = f"— {where(event)} via socialdesk ({event.channel})"
    if event.url:
        footer += f": {event.url}"
    return "\n".join([*lines, "", footer, reference(event)])


#: ``SocialEvent.extra`` keys of the customer's details the helpdesk refused (``refused:email``).
REFUSED_PREFIX = "refused:"


def refused_details(event: SocialEvent) -> list[str]:
    """Lines keeping what the helpdesk refused as the requester's details, shown as sent (a CR/LF too)."""
    refused = [(k.removeprefix(REFUSED_PREFIX), v) for k, v in event.extra.items() if k.startswith(REFUSED_PREFIX)]
    if not refused:
        return []
    listed = "; ".join(f"{name} {value!r}" for name, value in refused)
    return ["", f"The customer also gave (refused by the helpdesk as their contact details): {listed}"]


def reference(event: SocialEvent) -> str:
    """A line naming the platform message: lets the bridge tell, after a crash, whether it was written."""
    return f"ref: {event.platform}/{event.message_id}"


#: Where a mark ends: blanks, then the end of the text, a line break, or a tag's "<" (markup left in a helpdesk's
#: plain text). Anything else (a digit, a letter, "_", "-", ".", ":", "#", "/", "=", a space and more words) makes
#: it the start of a longer mark, or of a longer line.
_MARK_END = r"[^\S\r\n]*(?:[\r\n<]|\Z)"


def holds_mark(text: str, mark: str) -> bool:
    """Whether ``text`` holds ``mark`` at the end of a line, as every look-first mark is written (:func:`reference`,
    :func:`change_reference`, the CRM note's first line). Not a substring test: ``ref: generic/12`` is in
    ``ref: generic/123`` (and ``ref: facebook/<mid>`` in ``ref: facebook/<mid>#edit1``), and a retry of message 12,
    finding message 123's comment, marked 12 written, its words nowhere."""
    return re.search(re.escape(mark) + _MARK_END, text) is not None


def deleted_ticket_note(ticket_id: str) -> str:
    """The first note on the ticket a customer's message opened because an agent deleted the thread's ticket
    (no follow-up link can name a deleted ticket): where the conversation's history went."""
    return f"This social thread's previous ticket #{ticket_id} was deleted; the customer wrote again, in this ticket."


def no_helpdesk_api(key: str, base: str, path: str, example: str) -> str:
    """doctor's line, setup's and the worker's refusal when the helpdesk's address answers its API user's read
    with a refusal other than the credentials': whatever answers there is not that helpdesk's API."""
    return (f"{key}: no helpdesk API at {base} (GET {path} answered no API user); {key} is the account's address, "
            f"like {example}")  # fmt: skip


def api_user_sees_too_little(who: str, scope: str, fix: str) -> str:
    """doctor's line (and setup's refusal) for a helpdesk API user that cannot see every ticket: the helpdesk
    answers "not found" about a ticket hidden from it as about a deleted one, and the bridge opens a new ticket
    for a deleted one: a duplicate of a live ticket."""
    return (f"{who} {scope}: socialdesk needs an API user that sees every ticket, or it could take a ticket "
            f"hidden from it for a deleted one and open a duplicate; {fix}")  # fmt: skip


def hidden_or_deleted(ticket_id: str, who: str, scope: str) -> str:
    """A dead letter's reason: "not found" from an API user that cannot see every ticket is not taken for
    "deleted" (a new ticket could duplicate a live one); once the user sees every ticket, a replay settles it."""
    return (f"ticket {ticket_id} was not found, and the API user {who} {scope}: deleted, or hidden from it? "
            "Give the API user access to all tickets, then replay")  # fmt: skip


def hidden_or_never_opened(who: str, scope: str) -> str:
    """A dead letter's reason: no live ticket carries the thread's key, looked for because an earlier attempt may
    have opened it, by an API user that cannot see every ticket: it may be hidden from that user, and a new one
    would duplicate it; once the user sees every ticket, a replay settles it."""
    return (f"no live ticket of this thread was found, and the API user {who} {scope}: never opened, or hidden from "
            "it? Give the API user access to all tickets, then replay")  # fmt: skip


def edited_note(event: SocialEvent) -> str:
    if event.kind == "remove":
        return f"The customer removed their {where(event)} ({event.message_id}) on {event.channel}."
    return f"The customer edited their {where(event)} ({event.message_id}). New text:\n\n{event.text}"


def change_note(event: SocialEvent) -> str:
    """The internal note for an edit, a removal or a notice, closed by its :func:`change_reference`."""
    said = event.text if event.kind == "notice" else edited_note(event)
    return f"{said}\n\n{change_reference(event)}"


def change_reference(event: SocialEvent) -> str:
    """A line naming this one event (an edit, a removal, a notice), for the retry after an unknown outcome to
    look for its note (:func:`holds_mark`). Not :func:`reference`: a note is not the customer's words, and an
    edit's id may be its original's or its original's and more (Messenger's ``<mid>#edit1``). A digest of the
    event's inbox key (platform, account, message id; unique per event) has a fixed length and hex digits only: no
    mark begins another, and no helpdesk's HTML changes it."""
    key = "\n".join((event.platform, event.account_id, event.message_id))
    return f"note ref: {hashlib.sha256(key.encode()).hexdigest()[:16]}"


def reaction_note(product: str, action: str, emoji: str | None, mid: str | None) -> str:
    """A customer's reaction to a message of the conversation (Messenger, Instagram)."""
    target = f"a message ({mid})" if mid else "a message"
    if action == "unreact":
        return f"The customer removed their reaction to {target} on {product}."
    return f"The customer reacted {emoji or '(a reaction)'} to {target} on {product}."


def handover_note(product: str, control: str, app_id: str | None, metadata: str | None) -> str:
    """Meta's handover protocol moved (or was asked to move) the conversation between apps."""
    app = f"app {app_id}" if app_id else "no app (idle)"
    said = {
        "pass_thread_control": f"control of this conversation was passed from {app}",
        "take_thread_control": f"control of this conversation was taken from {app}",
        "request_thread_control": f"{app} asks for control of this conversation",
    }.get(control, "the conversation's control changed")
    return f"{product} handover: {said}." + (f" Metadata: {metadata}" if metadata else "")


def page_moderation_note(verb: str, noun: str, object_id: str) -> str:
    """The page (a moderator), not the customer, hid, showed again or removed a post or comment."""
    done = {"hide": "hid", "unhide": "made visible again", "remove": "removed"}.get(verb, verb)
    tail = "" if verb == "unhide" else " The customer did not remove it."
    return f"The page {done} the Facebook {noun} {object_id}.{tail}"


def identity_change_note(body: str | None) -> str:
    """WhatsApp says the customer's number or user id changed: the next messages come from the new one."""
    said = body or "the customer's WhatsApp number or user id changed"
    return f"WhatsApp: {said}. Their next messages come from the new identity and open a new ticket."


_REASON = "Reason: "
_PARTIAL = "socialdesk delivered only part of the reply above: "
_PARTIAL_END = ". Check the conversation on the platform."


def delivery_failed_note(reason: str) -> str:
    return (
        "socialdesk could not deliver the reply above to the customer.\n"
        f"{_REASON}{reason}\n"
        "The customer has not seen it. Reply again once the cause is fixed, or reach them another way."
    )


def sent_from_note(channel: str, platform: str, message_ids: Sequence[str]) -> str:
    """A reply posted by another channel's account (``reply_from``): which one, and where to see it."""
    links = " ".join(post_link(platform, message_id) for message_id in message_ids)
    return f"The reply above went out from the {channel} account (reply_from): {links}"


def post_link(platform: str, message_id: str) -> str:
    return f"https://x.com/i/web/status/{message_id}" if platform == "x" else message_id


def delivery_given_up_note(reason: str, replies: Sequence[AgentReply]) -> str:
    """The replies socialdesk stopped trying to deliver (retries used up, or a failure for good)."""
    listed = "\n".join(f'- {r.created_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC: "{first_words(r.body)}"' for r in replies)
    return (
        "socialdesk gave up delivering these replies to the customer:\n"
        f"{listed}\n"
        f"Reason: {reason}\n"
        "The customer has not seen them. Reply again once the cause is fixed, or reach them another way."
    )


def attachments_not_sent(names: Sequence[str]) -> str | None:
    """What the agent must know when a reply had files attached: the channels carry its text only."""
    if not names:
        return None
    files = ", ".join(f'"{name}"' for name in names)
    return (
        f"The file{'s' if len(names) > 1 else ''} attached to the reply above ({files}) did not go to the customer: "
        "socialdesk sends the text of replies only. Share a link in the reply text instead."
    )


def delivery_unknown_note(reason: str) -> str:
    return (
        "socialdesk does not know whether the reply above reached the customer: "
        f"{reason}.\nIt was not re-sent, to avoid posting it twice in public. "
        "Check the conversation on the platform and re-post only if it is missing."
    )


def partial_delivery_note(reason: str) -> str:
    return f"{_PARTIAL}{reason}{_PARTIAL_END}"


def note_reason(note: str) -> str:
    """The reason inside a failed or partial delivery's note (:func:`delivery_failed_note`,
    :func:`partial_delivery_note`: what the agent was told, kept as the delivery's error), for the figures'
    failures by reason; any other text: its first line."""
    lines = note.strip().splitlines() or [""]
    reason = next((line.removeprefix(_REASON) for line in lines if line.startswith(_REASON)), None)
    if reason is not None:
        return reason
    if lines[0].startswith(_PARTIAL):
        return "partly delivered: " + lines[0].removeprefix(_PARTIAL).removesuffix(_PARTIAL_END)
    return lines[0]


def window_closed(platform: str, last_inbound: datetime | None, limit: str) -> str:
    last = last_inbound.strftime("%Y-%m-%d %H:%M UTC") if last_inbound else "never"
    return f"{platform}'s reply window has closed ({limit} after the customer's last message, which was {last})"


def account_mismatch(noun: str, token_id: str, account_id: str) -> str:
    """``doctor``'s ✗ when a channel's token acts as another account than its ``account_id``: the webhooks of
    the token's account carry its id, so with the wrong one every message would find no channel."""
    return f'the token is for {noun} {token_id}, but account_id is {account_id!r}: set account_id = "{token_id}"'


def account_unknown(product: str, noun: str, account_id: str, hint: str) -> str:
    """``doctor``'s ✗ when the platform knows no ``account_id`` this token may use (a token for several accounts
    cannot say which one is meant, so only the configured id can be named)."""
    return f"{product} has no {noun} {account_id!r} that this token can use: account_id is {hint}"


def public_url_is_a_webhook(key: str, url: str, base: str, path: str) -> str:
    """``setup``'s refusal of a public URL that is a webhook's address, not the bridge's base."""
    return f"{key}: {url} is a webhook's address; give the bridge's base URL ({base}): setup adds {path}"


def approval_waiting_note(reply: AgentReply, reason: str, approve_tag: str, reject_tag: str) -> str:
    """An agent's reply held for approval (:mod:`bridge.approvals`): what waits, why, and how to answer."""
    return (
        f'socialdesk is holding the reply "{first_words(reply.body)}": waiting for approval ({reason}).\n'
        "The customer has not seen it. An approver sends it with the macro “Approve social reply” "
        f"(tag {approve_tag}) or stops it with “Reject social reply” (tag {reject_tag})."
    )


def approval_rejected_note(reply: AgentReply) -> str:
    return f'The reply "{first_words(reply.body)}" was rejected by an approver: socialdesk will never send it.'


def approval_refused_note(tag: str, reason: str) -> str:
    """An approver's tag the bridge did not take (:func:`bridge.approvals.refusal`): the replies stay held."""
    return f"socialdesk ignored the tag {tag} and took it off: {reason}. The held replies still wait for approval."


def approvals_line(count: int, oldest_age: float | None) -> str:
    """``socialdesk status``: the replies waiting for an approver."""
    if not count:
        return "none waiting"
    return f"{count} repl{'y' if count == 1 else 'ies'} waiting, the oldest for {_age(oldest_age or 0.0)}"


def _age(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min" if minutes else f"{int(seconds)} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def join_linked_notes(platform: str, author_id: str, contact_id: str, social: str, joined: str) -> tuple[str, str]:
    """The lines on two users of one customer that the helpdesk could not merge: the identity's, the Contact's."""
    who = f"{PLATFORM_NAMES.get(platform) or platform} {author_id}"
    return (
        f"socialdesk: {who} is Salesforce Contact {contact_id}; new conversations go to user {joined}.",
        f"socialdesk: also user {social} ({who}), kept apart with its tickets.",
    )


def join_undone_note(platform: str, author_id: str, contact_id: str, now: str) -> str:
    """The line on a user whose join the CRM contradicted."""
    who = f"{PLATFORM_NAMES.get(platform) or platform} {author_id}"
    return f"socialdesk: {who} is no longer Salesforce Contact {contact_id} (now: {now}); not joined to this user."


def bot_field_note(fields: dict[str, str]) -> str:
    """The note with the ticket field the bot filled from the customer's answer to its question."""
    return "The customer answered the bot's question: " + ", ".join(f"{v} (field {k})" for k, v in fields.items())


def bot_unknown_note(reason: str, said: str) -> str:
    """The note when the platform may have the bot's message but never answered (:func:`bridge.bot._unknown`)."""
    return (
        f"socialdesk does not know whether the bot's answer reached the customer ({reason}). It was not sent "
        f"again, to avoid sending it twice; check the conversation on the platform before repeating it. It said: {said}"
    )


def bot_stopped_note(what: str) -> str:
    """The note when the bot's message was cut off mid-send (the worker stopped before its outcome was recorded):
    what it was (:func:`bridge.bot.what`: its text is not kept), never sent again (:func:`bridge.bot._again`)."""
    return (
        f"socialdesk does not know whether the bot's message ({what}) reached the customer: the bridge stopped "
        "while sending it. It was not sent again, to avoid sending it twice; check the conversation on the "
        "platform before repeating it."
    )


def bot_receipt_failed_note(what: str, reason: str) -> str:
    """The note when the platform took the bot's message, then reported it failed (a WhatsApp status): the bot's
    message is an internal note, not a reply above, so it is named (:func:`bridge.bot.what`)."""
    return (
        f"The bot's message ({what}) did not reach the customer.\n{_REASON}{reason}\n"
        "The customer has not seen it; answer them another way if it matters."
    )


def bot_field_failed_note(fields: dict[str, str], reason: str) -> str:
    """The note when the helpdesk would not take that field: the value for the agent, and no thanks was sent."""
    given = ", ".join(f"{v} (field {k})" for k, v in fields.items())
    return (
        f"The customer answered the bot's question: {given}, but the field could not be set ({reason}). "
        "The bot did not thank them; please set it by hand."
    )


#: The helpdesks an identity key (helpdesk:platform:author id) starts with.
HELPDESK_NAMES = frozenset({"zendesk", "freshdesk"})
#: An email address, or a number of 7 digits or more that may be a phone (own channels' ids are the caller's).
_PERSONAL = re.compile(r"[^\s:@]+@[^\s:@]+|\+?\d(?:[ ().-]?\d){6,}")
_pseudonym_key = secrets.token_bytes(32)  # until use_pseudonym_key: unguessable, the same in this process only


def use_pseudonym_key(secret: str) -> None:
    """Derive :func:`pseudonym`'s key from a secret every process of the installation holds
    (:func:`bridge.logs.use_pseudonyms`), so that serve, worker and the CLI show one customer alike."""
    global _pseudonym_key
    _pseudonym_key = hmac.digest(secret.encode(), b"socialdesk log pseudonyms", "sha256")


def pseudonym(value: str) -> str:
    """``~`` and 10 hex digits of a keyed hash of ``value``: stable, so the lines of one customer can be followed;
    keyed, because a plain digest of a phone number is undone by hashing every number."""
    return "~" + hmac.new(_pseudonym_key, value.encode(), "sha256").hexdigest()[:10]


def key_shown(key: str) -> str:
    """A key as a log line or ``socialdesk status`` shows it: a thread key (platform:account:thread id), an
    identity key (helpdesk:platform:author id), an author's key (platform:author id: a requester's external id,
    the CRM cache's) or a message id. The database keeps the real keys; here a WhatsApp customer (the wa_id is
    the phone number, and a wamid message id encodes it), any identity's author and an own channel's email or
    phone-like ids become their :func:`pseudonym`; other platforms' ids are no contact detail and stay. (A wamid is
    base64 of the number and more: Meta's own example, tests/fixtures/meta/whatsapp_text_message.json from the
    Cloud API webhooks overview, decodes to b'\\x1c\\x18\\x0b16503879439...'.)"""
    head, _, rest = key.partition(":")
    if head in HELPDESK_NAMES:  # the author id of any platform: a number, an email, a handle
        platform, _, author = rest.partition(":")
        return f"{head}:{platform}:{pseudonym(author)}"
    if head == "whatsapp":  # the customer is the last part of a thread key and of an author's key
        before, _, customer = key.rpartition(":")
        return f"{before}:{pseudonym(customer)}"
    if key.startswith("wamid."):
        body, hash_sign, step = key.partition("#")  # a receipt's id is <wamid>#<status>
        return "wamid." + pseudonym(body) + hash_sign + step
    return _PERSONAL.sub(lambda m: pseudonym(m.group()), key) if head == "generic" else key
