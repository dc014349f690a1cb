"""Container health check for the web service: GET /healthz as a client of this host would.

Sends the first allowed host name and the proxy's HTTPS header, so the request passes
ALLOWED_HOSTS and is not redirected to HTTPS.
"""

import os
import sys
import urllib.request

host = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost").split(",")[0].strip() or "localhost"
url = os.environ.get("READERSTUDY_HEALTHCHECK_URL", "http://127.0.0.1:8000/healthz")
request = urllib.request.Request(  # noqa: S310 (the container's own URL)
    url,
    headers={"Host": host.lstrip("."), "X-Forwarded-Proto": "https"},
)
try:
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        sys.exit(0 if response.status == 200 else 1)
except OSError as error:
    print(f"unhealthy: {error}", file=sys.stderr)
    sys.exit(1)
