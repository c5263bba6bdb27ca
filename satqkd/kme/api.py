"""ETSI GS QKD 014 V1.1.1 over WSGI: the REST interface of the key-delivery server.

The three methods of the standard (section 5.1), each SAE a user site named
by its node name:

* ``GET /api/v1/keys/{slave_SAE_ID}/status`` -- Status (section 6.1), asked
  by the master;
* ``GET|POST /api/v1/keys/{slave_SAE_ID}/enc_keys`` -- Get key: ``number``
  and ``size`` as query parameters (GET) or in a Key request body (POST,
  section 6.2); answered with a Key container (section 6.3, ``keys: [{key_ID,
  key}]``, key_ID a UUID, key base64);
* ``GET|POST /api/v1/keys/{master_SAE_ID}/dec_keys`` -- Get key with key IDs:
  ``key_ID`` as a query parameter (GET) or ``key_IDs: [{key_ID}]`` (POST,
  section 6.4), asked by the slave.

Status codes as section 5 gives them: 200, 400 (bad request format), 401
(unauthorized), 503 (error on the server side: here, not enough key now),
each error with an Error body ``{message, details}`` (section 6.5).  The
caller is the SAE its verified client certificate names
(:func:`~satqkd.kme.pki.sae_identities`); a certificate naming no SAE of the
network gets 401.  Outside the standard: 404 for any other path and 405
for another method.  Nothing here logs key material: the access log names
the SAEs, the method and the number of keys.

``max_SAE_ID_count`` is 0: ``additional_slave_SAE_IDs`` must be empty, and
a non-empty ``extension_mandatory`` is refused (400), as the standard asks
of a KME that does not support an extension.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from urllib.parse import parse_qs, unquote

from .pki import sae_identities
from .twin import KeyRefused, NetworkTwin

__all__ = ["make_app", "MAX_BODY_BYTES"]

MAX_BODY_BYTES = 65536

log = logging.getLogger("satqkd.kme")

_REASONS = {200: "200 OK", 400: "400 Bad Request", 401: "401 Unauthorized", 404: "404 Not Found",
            405: "405 Method Not Allowed", 413: "413 Payload Too Large", 503: "503 Service Unavailable"}


def _json(start_response, status: int, body: dict, extra=()):
    data = json.dumps(body, separators=(",", ":")).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
               ("Cache-Control", "no-store"), *extra]
    start_response(_REASONS[status], headers)
    return [data]


def _error(message: str, details=None) -> dict:
    return {"message": message, **({"details": details} if details else {})}


def _int_param(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and len(value) <= 12 and value.strip().lstrip("+").isdigit():
            return int(value)
        raise KeyRefused(400, f"{name}: expected a whole number, got {value!r}"[:200])
    return value


def _key_id(value) -> str:
    if not isinstance(value, str):
        raise KeyRefused(400, "key_ID: expected a UUID string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise KeyRefused(400, f"key_ID: expected a UUID, got {value!r}"[:200]) from None


def _body(environ) -> dict:
    """The JSON object of a POST body (Content-Length or chunked), at most MAX_BODY_BYTES."""
    declared = environ.get("CONTENT_LENGTH")
    try:
        length = int(declared) if declared else None
    except ValueError:
        raise KeyRefused(400, "Content-Length: expected a number") from None
    if length is not None and length > MAX_BODY_BYTES:
        raise KeyRefused(400, f"request body: expected at most {MAX_BODY_BYTES} bytes")
    raw = environ["wsgi.input"].read(MAX_BODY_BYTES + 1 if length is None else length)
    if len(raw) > MAX_BODY_BYTES:
        raise KeyRefused(400, f"request body: expected at most {MAX_BODY_BYTES} bytes")
    if length is not None and len(raw) < length:
        raise KeyRefused(400, "request body: shorter than its Content-Length")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise KeyRefused(400, "request body: expected JSON") from None
    if not isinstance(body, dict):
        raise KeyRefused(400, "request body: expected a JSON object")
    return body


def _container(keys) -> dict:
    return {"keys": [{"key_ID": k, "key": base64.b64encode(v).decode()} for k, v in keys]}


def make_app(twin: NetworkTwin):
    """The WSGI application serving ``twin``'s SAEs."""

    def enc_keys(environ, caller, slave):
        if environ["REQUEST_METHOD"] == "GET":
            q = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            number = _int_param(q["number"][-1], "number") if "number" in q else 1
            size = _int_param(q["size"][-1], "size") if "size" in q else twin.limits.key_size_bits
        else:
            body = _body(environ)
            number = _int_param(body.get("number", 1), "number")
            size = _int_param(body.get("size", twin.limits.key_size_bits), "size")
            if body.get("additional_slave_SAE_IDs"):
                raise KeyRefused(400, "additional_slave_SAE_IDs: not supported (max_SAE_ID_count is 0)")
            if body.get("extension_mandatory"):
                raise KeyRefused(400, "extension_mandatory: no extension is supported")
        return _container(twin.issue(caller, slave, number, size))

    def dec_keys(environ, caller, master):
        if environ["REQUEST_METHOD"] == "GET":
            q = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            if "key_ID" not in q:
                raise KeyRefused(400, "key_ID: missing query parameter")
            ids = [_key_id(q["key_ID"][-1])]
        else:
            body = _body(environ)
            items = body.get("key_IDs")
            if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
                raise KeyRefused(400, "key_IDs: expected a list of {\"key_ID\": UUID}")
            if len(items) > twin.limits.max_key_per_request:
                raise KeyRefused(400, f"key_IDs: expected at most {twin.limits.max_key_per_request} key IDs")
            ids = [_key_id(x.get("key_ID")) for x in items]
        return _container(twin.fetch(master, caller, ids))

    def app(environ, start_response):
        method = environ["REQUEST_METHOD"]
        parts = unquote(environ.get("PATH_INFO", "")).split("/")
        if len(parts) != 6 or parts[:4] != ["", "api", "v1", "keys"] or parts[5] not in ("status", "enc_keys", "dec_keys"):
            return _json(start_response, 404, _error("not found: expected /api/v1/keys/{SAE_ID}/status, enc_keys or dec_keys"))
        other, what = parts[4], parts[5]
        allowed = ("GET",) if what == "status" else ("GET", "POST")
        if method not in allowed:
            return _json(start_response, 405, _error(f"method {method} not allowed"), [("Allow", ", ".join(allowed))])
        names = {n for n in sae_identities(environ) if twin.is_sae(n)}
        if len(names) != 1:
            log.info("401 %s %s: client certificate names no SAE of the network", method, what)
            return _json(start_response, 401, _error("unauthorized: the client certificate names no SAE of this network"))
        caller = names.pop()
        pair = (other, caller) if what == "dec_keys" else (caller, other)
        try:
            if what == "status":
                body = twin.status(caller, other)
            elif what == "enc_keys":
                body = enc_keys(environ, caller, other)
            else:
                body = dec_keys(environ, caller, other)
        except KeyRefused as exc:
            twin.refuse(*pair, exc.status)
            log.debug("%d %s %s %s -> %s: %s", exc.status, method, what, pair[0], pair[1], exc.message)
            return _json(start_response, exc.status, _error(exc.message, exc.details))
        except Exception:  # a bug of ours: the standard's server-side error, no detail to the client
            twin.refuse(*pair, 503)
            log.exception("503 %s %s %s -> %s: internal error", method, what, pair[0], pair[1])
            return _json(start_response, 503, _error("internal error of the key management entity"))
        n = len(body.get("keys", ()))
        log.debug("200 %s %s %s -> %s (%d keys)", method, what, pair[0], pair[1], n)
        return _json(start_response, 200, body)

    return app
