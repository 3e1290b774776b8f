"""Redirect targets that stay on this service."""
from urllib.parse import urljoin, urlparse

from flask import request


def safe_next(target, default="/"):
    """`target` if it is a path on this host, else `default` (no open redirects through `next` or `url`)."""
    if not target or target.startswith("//") or "\\" in target:
        return default
    host = urlparse(request.host_url)
    resolved = urlparse(urljoin(request.host_url, target))
    if resolved.scheme in ("http", "https") and resolved.netloc == host.netloc:
        return target if target.startswith("/") else resolved.path
    return default
