"""Telling a passkey's owner that one was added or removed: a passkey is a way in, so its
owner hears of every change, by SMS and by e-mail when the account has an address.

An added passkey is told of last in the unit of work that inserts it, the SMS first: when
the first notice cannot go out, `NoticeNotSent` rolls the insert back (a passkey its owner
is not told of is not added); once one went out, a later failure is only logged. A removal
is told of after it committed: a failed notice never keeps a passkey the user removed.
"""

from __future__ import annotations

from datetime import datetime

from idplus.auth.sender import Message, Sender
from idplus.logs import get_logger
from idplus.metrics import SmsPurpose
from idplus.models import User

log = get_logger(__name__)


class NoticeNotSent(Exception):
    """No notice of a new passkey reached its owner: the passkey is not added."""


def can_be_told(user: User) -> bool:
    """The account has a phone number or an e-mail address to be told of its passkeys at."""
    return bool(user.phone_number or user.email)


def tell_owner(
    sender: Sender,
    owner: User,
    body: str,
    now: datetime,
    purpose: SmsPurpose,
    *,
    must_reach: bool,
) -> None:
    """The SMS, then the e-mail. `must_reach`: raise NoticeNotSent when the first of them
    fails (nothing went out); otherwise each failure is logged and the next is tried."""
    messages: list[Message] = []
    if owner.phone_number:
        messages.append(Message(owner.phone_number, "sms", body, now, purpose=purpose))
    if owner.email:
        messages.append(Message(to=owner.email, channel="email", body=body, at=now))
    sent = False
    for message in messages:
        try:
            sender.send(message)
        except Exception as exc:  # any sender's failure (a gateway down, a full disk …)
            if must_reach and not sent:
                raise NoticeNotSent(f"{message.channel}: {type(exc).__name__}") from None
            log.warning(
                "passkey_notice_not_sent",
                user_id=owner.id,
                channel=message.channel,
                purpose=purpose.value,
                error=type(exc).__name__,
            )
        else:
            sent = True
