"""Schemathesis hooks for sluice's API fuzzing step (loaded through SCHEMATHESIS_HOOKS).

One extra check: every error answer is Keptn's `{"code", "message"}` body, whatever the spec
documents for that status (the specs leave 405, 413, 415 and most 404s undocumented).
"""

import json

import schemathesis


@schemathesis.check
def keptn_error_shape(ctx, response, case):
    """A 4xx or 5xx answer is exactly {"code": <the status>, "message": <non-empty text>}."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(
            f"error answer {response.status_code} is not JSON: {response.content[:200]!r}"
        )
    if not isinstance(body, dict) or set(body) != {"code", "message"}:
        raise AssertionError(
            f"error answer {response.status_code} is not Keptn's {{code, message}}: {body!r:.200}"
        )
    if body["code"] != response.status_code:
        raise AssertionError(
            f"error answer {response.status_code} has code {body['code']!r}"
        )
    if not isinstance(body["message"], str) or not body["message"].strip():
        raise AssertionError(f"error answer {response.status_code} has no message")
    return None
