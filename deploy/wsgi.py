"""The WSGI entry point of the production web processes (deploy/gunicorn.conf.py: `deploy.wsgi:application`).

The service sits behind one reverse proxy (deploy/nginx.conf), which sets `X-Forwarded-For`,
`X-Forwarded-Proto` and `X-Forwarded-Host`. app.py does not apply werkzeug's ProxyFix, so without this wrapper
every request would come from the proxy's address: the login limits (five failures per username *and address*,
thirty per address) would then count the whole country as one address and one person's typing could lock
everybody out. `PROXY_FIX_HOPS` is the number of proxies in front of gunicorn that append to those headers
(default 1: nginx; 0 turns the wrapper off, e.g. when gunicorn is reached directly on loopback).
"""
import os

from werkzeug.middleware.proxy_fix import ProxyFix

from app import create_app

hops = int(os.environ.get("PROXY_FIX_HOPS", "1") or 0)
application = create_app()
if hops > 0:
    application.wsgi_app = ProxyFix(application.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
