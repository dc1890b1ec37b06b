"""Is the Hub reachable? One HEAD request with a short timeout (``forge doctor``, and the
transformers runner deciding to use its cache at once instead of retrying for ~30 s)."""

from __future__ import annotations


def hub_reachable(endpoint: str, timeout: float = 3.0) -> str | None:
    """None when ``endpoint`` answers HTTP (any status), else why not, in a few words.

    urllib honours HTTPS_PROXY/NO_PROXY like huggingface_hub does; the body is never read.
    """
    import urllib.error
    import urllib.request

    request = urllib.request.Request(endpoint.rstrip("/") + "/api/models?limit=1", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None  # an HTTP answer, whatever its status, proves the server is there
    except urllib.error.URLError as exc:
        reason = exc.reason
        return str(getattr(reason, "strerror", None) or reason)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except (OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__
