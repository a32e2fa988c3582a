"""How a page names the person who is logged in: the login pages need it too, so it lives in
`protocol/user_names.py`; this name stays for the pages that import it from here."""

from __future__ import annotations

from idplus.protocol.user_names import display_name as display_name
