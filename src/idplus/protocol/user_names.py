"""How a page names the person who is logged in, so they can tell it is them ("Not you?").

Their name when the account has one; else the phone number or e-mail address, masked, since
the page may be in front of someone else.
"""

from __future__ import annotations

from idplus.auth.local import mask_email, mask_phone_number
from idplus.models import User


def display_name(user: User) -> str:
    names = (part.strip() for part in (user.given_name, user.family_name) if part)
    full = " ".join(name for name in names if name)
    if full:
        return full
    phone = user.phone_number or (user.username if user.username.startswith("+") else None)
    if phone:
        return mask_phone_number(phone)
    email = user.email or (user.username if "@" in user.username else None)
    if email:
        return mask_email(email)
    return user.username
