"""HTTP security headers and the per-request CSP nonce that Flask-Admin's templates put on their tags."""
import secrets

from flask import g, request


def csp_nonce():
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


# Flask-Admin's templates use href="javascript:void(0)" on dropdown toggles: these hashes allow exactly that
# snippet. Its buttons carry onclick handlers with translated text (confirmations), which no fixed hash covers:
# `script-src-attr 'unsafe-inline'` allows event-handler attributes only, while <script> elements still need
# the per-request nonce. Templates autoescape, so no stored text can become an attribute.
FLASK_ADMIN_INLINE_HASHES = (
    "'unsafe-hashes' 'sha256-97l24HYIWEdSIQ8PoMHzpxiGCZuyBDXtN19RPKFsOgk=' "  # void(0)
    "'sha256-rRMdkshZyJlCmDX27XnL7g3zXaxv7ei6Sg+yt4R3svU=' "  # javascript:void(0)
    "'sha256-2rvfFrggTCtyF5WOiTri1gDS8Boibj4Njn0e+VCBmDI='"  # return false;
)


def set_security_headers(response):
    nonce = g.get("csp_nonce")
    script = f"'self' 'nonce-{nonce}' {FLASK_ADMIN_INLINE_HASHES}" if nonce else "'self'"
    response.headers.setdefault(
        "Content-Security-Policy",
        f"default-src 'self'; script-src {script}; script-src-attr 'unsafe-inline'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not is_static(request.endpoint):
        # every page and API answer may hold personal or scoped data (exports too): never kept by a browser or
        # a proxy; only static files are cacheable
        response.headers["Cache-Control"] = "no-store"
    return response


def is_static(endpoint):
    return bool(endpoint) and (endpoint == "static" or endpoint.endswith(".static"))
