"""The one error tree. Every connector maps its vendor's failures onto it, with ``raise ... from e``.

::

    BridgeError                       retryable=False
    ├── ConfigError                   bad or missing configuration (fails at start)
    ├── RetryableError                retryable=True: try again later, at least ``retry_after``;
    │   │                             raised as is for a limit on one thing (a ticket's updates, one
    │   │                             customer's messages): only that work waits, nothing is paused
    │   ├── RateLimited               429 and friends; pauses the connector for every worker
    │   └── Unavailable               5xx, connection refused, DNS...
    ├── PermanentError                the request will never succeed as it is
    │   ├── AuthError                 expired or revoked token, wrong credentials
    │   ├── NotFound                  the post, comment, ticket or user is gone
    │   ├── TicketClosed              a closed ticket cannot be updated: open a follow-up
    │   │   └── TicketDeleted         an agent deleted it (Zendesk: 404 on every call about it): open a
    │   │                             new ticket, never a follow-up (Zendesk links closed tickets only)
    │   ├── WindowClosed              the platform's reply window has passed
    │   ├── RefusedFields             the helpdesk refused some of a requester's details (a malformed email)
    │   ├── RequesterRefused          the helpdesk refused a ticket's requester: the user remembered for the
    │   │                             customer was deleted (or merged, suspended) since; forgotten, tried again
    │   └── PartiallyDelivered        some parts of a split reply went out, then one failed
    └── UnknownOutcome                the request may or may not have been applied (timeout
                                      after sending): never repeated blindly, flagged instead

Errors carry ``platform`` (which system), ``http_status`` and a message fit for an agent's eyes:
no secret ever goes into one.
"""

from __future__ import annotations

from typing import Any


class BridgeError(Exception):
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        platform: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.platform = platform
        self.http_status = http_status
        self.retry_after = retry_after
        self.code = code

    def __str__(self) -> str:
        where = f"{self.platform}: " if self.platform else ""
        status = f" (HTTP {self.http_status})" if self.http_status else ""
        return f"{where}{self.message}{status}"


class ConfigError(BridgeError):
    """Raised at start; the message names the key and what is wrong with it."""


class RetryableError(BridgeError):
    retryable = True


class RateLimited(RetryableError):
    pass


class Unavailable(RetryableError):
    pass


class PermanentError(BridgeError):
    pass


class AuthError(PermanentError):
    pass


class NotFound(PermanentError):
    pass


class TicketClosed(PermanentError):
    pass


class TicketDeleted(TicketClosed):
    """The thread's ticket was deleted: the customer's next message opens a new ticket, with a note naming
    the deleted one. A kind of :class:`TicketClosed` (it can no longer be updated either), told apart
    because a follow-up link to it is refused."""


class WindowClosed(PermanentError):
    pass


class PartiallyDelivered(PermanentError):
    """Never retried: the parts already posted would be posted again. Carries their platform ids."""

    def __init__(self, message: str, *, message_ids: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.message_ids = message_ids


class UnknownOutcome(BridgeError):
    """Not retryable on purpose: resending could post twice in public."""


class LeaseBusy(RetryableError):
    """Another worker holds the thread; try again shortly."""


class RefusedFields(PermanentError):
    """The helpdesk refused a requester's optional details; ``fields`` names them as :class:`Author`
    attributes (``email``, ``phone``, ``handle``). The requester is made again without them."""

    def __init__(self, message: str, *, fields: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.fields = fields


class RequesterRefused(PermanentError):
    """The helpdesk refused a new ticket's requester (Zendesk's 422 ``RecordInvalid`` naming ``requester``,
    Freshdesk's 400 naming ``requester_id``): nothing was written. The user the store remembered for the
    customer is gone, so the bridge forgets it and the next attempt finds or makes a live one
    (:func:`bridge.inbound._requester_refused`)."""


def describe(e: BaseException) -> str:
    """What failed, in one line fit for a log or a dead letter: the error's class and the first line of its
    message. A database error is described by the driver's error it wraps: its SQL, its parameters and
    PostgreSQL's DETAIL ("Failing row contains ...") quote the row's values, i.e. customer data."""
    cause = getattr(e, "orig", None)
    cause = cause if isinstance(cause, BaseException) else e
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"[:300]
