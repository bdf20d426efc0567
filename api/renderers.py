"""Renderers: JSON on orjson, and DRF's browsable API for humans.

On the book list at ``page_size=100`` the stdlib encoder is a visible share of the
response time (see the README's measurements); orjson encodes the same data, from the
same serializers, in a fraction of it.
"""

from __future__ import annotations

import base64
import hashlib

import orjson
from rest_framework import renderers
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder


class ORJSONRenderer(JSONRenderer):
    # DRF's encoder knows Decimal, dates, lazy strings, UUIDs, ...; orjson asks it only
    # for the types it does not handle natively.
    _fallback = JSONEncoder().default

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        indent = self.get_indent(accepted_media_type, renderer_context or {})
        options = orjson.OPT_INDENT_2 if indent else 0
        try:
            return orjson.dumps(data, default=self._fallback, option=options)
        except TypeError:
            # Integer dict keys (DRF's per-index errors of list fields): the stdlib
            # encoder turns them into strings, orjson only when asked. Asked on this
            # rare path only, so the fast path stays exactly as it was.
            options |= orjson.OPT_NON_STR_KEYS
            return orjson.dumps(data, default=self._fallback, option=options)


def _csp_hash(source: str) -> str:
    digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
    return f"'sha256-{digest}'"


# DRF's page floats two buttons right with one inline style attribute, which the
# site's policy (settings.CONTENT_SECURITY_POLICY) blocks. Allowed by hash, on these
# pages only: that exact attribute and no other.
BROWSABLE_API_CSP = {
    "style-src-attr": ["'unsafe-hashes'", _csp_hash("float: right; margin-right: 10px")]
}


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API, under the site's CSP, writing through its raw-data (JSON)
    form only.

    DRF's generated HTML forms always post ``multipart/form-data``, which the API
    does not parse (``DEFAULT_PARSER_CLASSES``): offered, they would only answer 415.
    Its inline ``<style>`` gets the request's nonce (templates/rest_framework/api.html).
    """

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            # django-csp's per-response addition, recorded as its csp_update() does.
            response._csp_update = BROWSABLE_API_CSP
        return super().render(data, accepted_media_type, renderer_context)

    def get_rendered_html_form(self, data, view, method, request):
        if method in {"POST", "PUT", "PATCH"}:
            return None
        return super().get_rendered_html_form(data, view, method, request)
