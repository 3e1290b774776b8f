"""Great Expectations Data Docs of a run, kept with the run and served behind login.

GX renders its pages with links to CDNs (Bootstrap, jQuery, Vega, Font Awesome, a logo on S3); the service
serves no asset from anywhere else, so those tags are removed and the page gets Flask-Admin's own Bootstrap.
The values GX shows are escaped by its Jinja templates; the page is also served with a CSP that runs no script.
"""
import json
import re
import zlib

_EXTERNAL = re.compile(r"<(?:link|script|img)\b[^>]*(?:href|src)\s*=\s*[\"']https?://[^>]*>(?:\s*</script>)?",
                       re.IGNORECASE)
_EXTERNAL_URL = re.compile(r"url\(['\"]?https?://[^)]*\)", re.IGNORECASE)
_EXTERNAL_ATTRIBUTE = re.compile(r"(href|src)\s*=\s*([\"'])https?://[^\"']*\2", re.IGNORECASE)


def render(validation_result):
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    return DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(validation_result))


_SCRIPT = re.compile(r"<script\b.*?</script>", re.IGNORECASE | re.DOTALL)
_HANDLER = re.compile(r"\son[a-z]+\s*=\s*(\"[^\"]*\"|'[^']*')", re.IGNORECASE)


def strip_external(html):
    """No external asset, no script: the page is a report to read."""
    html = _SCRIPT.sub("", html)
    html = _HANDLER.sub("", html)
    html = _EXTERNAL.sub("", html)
    html = _EXTERNAL_URL.sub("none", html)
    return _EXTERNAL_ATTRIBUTE.sub(r"\1=\2#\2", html)


def pack(results):
    """{period: GX validation result} → compressed {period: sanitized HTML}."""
    pages = {period: strip_external(render(result)) for period, result in results.items()}
    return zlib.compress(json.dumps(pages).encode(), 6)


def unpack(blob):
    return json.loads(zlib.decompress(blob)) if blob else {}
