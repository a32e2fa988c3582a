"""A script-level browser: an HTTP client with a cookie jar that fills the pages' forms.

It uses only what INTERFACE.md promises: plain `<form method="post">` pages with named
fields; every hidden input is kept and the form is posted to its `action`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._button: tuple[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(action=a.get("action", "")))
        elif tag == "input" and self.forms:
            name = a.get("name")
            if name:
                self.forms[-1].inputs.append(name)
                if a.get("type") == "hidden":
                    self.forms[-1].fields[name] = a.get("value", "")
        elif tag == "button" and self.forms and a.get("name"):
            self.forms[-1].buttons.append((a["name"], a.get("value", "")))


def parse_forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


class FormBrowser:
    """Follows redirects within the server; stops at the client's redirect URI."""

    def __init__(self, client: Any, stop_prefix: str) -> None:
        # Any httpx-style client that does not follow redirects by itself.
        self.client = client
        self.stop_prefix = stop_prefix
        self.last: Any = None

    def get(self, url: str) -> Any:
        return self._follow(self.client.get(url))

    def submit(
        self, values: dict[str, str] | None = None, button: tuple[str, str] | None = None
    ) -> Any:
        assert self.last is not None
        (form,) = parse_forms(self.last.text)
        data = dict(form.fields)
        data.update(values or {})
        if button is not None:
            assert button in form.buttons, f"{button} not among {form.buttons}"
            data[button[0]] = button[1]
        url = urljoin(str(self.last.url), form.action)
        return self._follow(self.client.post(url, data=data))

    def _follow(self, response: Any) -> Any:
        while response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(self.stop_prefix):
                self.last = response
                return response
            response = self.client.get(location)
        self.last = response
        return response
