"""The container's health check: exit 0 when the service on port 8000 is ready.

``GET /health/ready`` must answer 200; a service without that endpoint yet (404) is ready when
``GET /health`` says status "ok" (a model loaded and the database reachable).
"""

import json
import sys
import urllib.error
import urllib.request

BASE = "http://127.0.0.1:8000"


def status(path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(BASE + path, timeout=4) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def main() -> int:
    code, body = status("/health/ready")
    if code == 404:
        code, body = status("/health")
        if code == 200 and json.loads(body).get("status") != "ok":
            code = 503
    if code != 200:
        print(f"not ready: {code} {body[:300]!r}")
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError) as exc:  # not listening yet, or not JSON
        print(f"not ready: {exc}")
        sys.exit(1)
