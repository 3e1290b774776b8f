"""The WSGI entry point of the production web processes (deploy/gunicorn.conf.py: `deploy.wsgi:application`).

The service sits behind one reverse proxy (deploy/nginx.conf), which sets `X-Forwarded-For`,
`X-Forwarded-Proto` and `X-Forwarded-Host`; `PROXY_FIX_HOPS=1` in the environment (deploy/drug-rehab.env.example)
makes create_app trust that one hop, so the login limits count each user's own address, not the proxy's.
"""
from app import create_app

application = create_app()
