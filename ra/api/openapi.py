"""The OpenAPI 3.1 description of /api/v1. Kept beside the routes it describes; a
test checks that every API route appears here."""
from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}


def _resp(desc, schema=None, content_type="application/json"):
    r = {"description": desc}
    if schema:
        r["content"] = {content_type: {"schema": schema}}
    return r


def _errors(*codes):
    text = {400: "Bad input", 401: "No or bad bearer token", 403: "Not allowed", 404: "Not found (or not yours)",
            409: "Not possible in the current state", 413: "File over 10 MB", 422: "Field errors"}
    return {str(c): _resp(text[c], ERROR) for c in codes}


ORG_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _decision(summary, body=None):
    op = {"summary": summary, "tags": ["organisations"], "parameters": [ORG_ID],
          "responses": {"200": _resp("The organisation", {"$ref": "#/components/schemas/Organisation"}),
                        **_errors(401, 403, 404, 409)}}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return {"post": op}


# What the framework itself may answer to any operation, whatever its domain does:
# the bearer check, the role check, the one path converter, the one JSON-body and
# query helpers, the request-size limit, and a backend (CA, database) that is down.
COMMON = {
    400: "Malformed input: a body that is not a JSON object, a bad query value, an id out of range",
    401: "No or bad bearer token",
    403: "Not allowed for this role",
    404: "Not found (or not yours)",
    413: "Request body over the size limit",
    503: "An outside service (the CA) is unavailable; nothing was lost, try again later",
}


def complete(paths: dict) -> dict:
    """Adds to each operation the statuses the framework can give it (``COMMON``),
    so that the document lists every status an operation can return."""
    from ra.web import MAX_ID

    for path, item in paths.items():
        for method, op in item.items():
            for param in op.get("parameters", []):
                schema = param.get("schema", {})
                if param.get("in") == "path" and schema.get("type") == "integer":
                    schema.setdefault("minimum", 1)          # ids start at 1 …
                    schema.setdefault("maximum", MAX_ID)     # … and fit an INTEGER (the <int> converter)
            responses = op.setdefault("responses", {})
            secured = op.get("security") != []
            wanted = [400, 503]
            if secured:
                wanted += [401, 403]
            if "{" in path:
                wanted.append(404)
            if method in ("post", "put", "patch"):
                wanted.append(413)
            for code in wanted:
                responses.setdefault(str(code), _resp(COMMON[code], ERROR))
    return paths


def spec() -> dict:
    from ra.enrollment.holder_api import openapi_paths as holder_paths
    from ra.enrollment.reference import District, OrganisationKind
    from ra.reports.api import openapi_paths as report_paths
    from ra.revocation.api import openapi_paths as revocation_paths
    from ra.tokens.handover_api import openapi_paths as handover_paths
    from ra.tokens.unblock_api import openapi_paths as unblock_paths

    reason = {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ra — Registration Unit back office", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                   "fields": {"type": "object", "additionalProperties": {"type": "string"}}}}}},
                "Registration": {"type": "object", "required": [
                    "name", "registry_number", "kind", "district", "address", "email_domains",
                    "registrar_name", "registrar_position", "registrar_email", "registrar_phone", "password"],
                    "properties": {
                        "name": {"type": "string"}, "registry_number": {"type": "string", "pattern": "^[0-9]{7}$"},
                        "kind": {"type": "string", "enum": [k.value for k in OrganisationKind]},
                        "district": {"type": "string", "enum": [d.value for d in District]},
                        "address": {"type": "string"},
                        "phone": {"type": "string"},
                        "email_domains": {"type": "string", "description": "space or comma separated"},
                        "registrar_name": {"type": "string"}, "registrar_position": {"type": "string"},
                        "registrar_email": {"type": "string", "format": "email"},
                        "registrar_phone": {"type": "string"},
                        "password": {"type": "string", "minLength": 10},
                        "locale": {"type": "string", "enum": ["mn", "en"]}}},
                "Organisation": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"}, "registry_number": {"type": "string"},
                    "kind": {"type": "string"}, "district": {"type": "string"},
                    "status": {"type": "string", "enum": ["pending", "under_review", "contract_sent", "active",
                                                          "rejected", "suspended"]},
                    "contract_number": {"type": ["string", "null"]}, "documents": {"type": "array"}}},
            },
        },
        "security": [{"bearer": []}],
        "paths": complete({
            "/organisations": {"post": {
                "summary": "Self-registration of an organisation and its registration officer's account",
                "tags": ["organisations"], "security": [],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Registration"}}}},
                "responses": {"202": _resp("Received. The same answer whether or not the registrar's address "
                                           "already has an account; an e-mail to it says which", {
                                               "type": "object", "required": ["message"],
                                               "properties": {"message": {"type": "string"}}}),
                              **_errors(400, 422)}}},
            "/organisations/{id}": {"get": {
                "summary": "An organisation (a registrar sees only their own)", "tags": ["organisations"],
                "parameters": [ORG_ID],
                "responses": {"200": _resp("The organisation", {"$ref": "#/components/schemas/Organisation"}),
                              **_errors(401, 404)}}},
            "/organisations/{id}/documents": {"post": {
                "summary": "Upload the request letter or the signed contract (PDF, PNG, JPEG; ≤ 10 MB)",
                "tags": ["organisations"], "parameters": [ORG_ID],
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["kind", "file"],
                    "properties": {"kind": {"type": "string", "enum": ["request_letter", "signed_contract"]},
                                   "file": {"type": "string", "format": "binary"}}}}}},
                "responses": {"201": _resp("Stored"), **_errors(400, 401, 403, 404, 409, 413)}}},
            "/organisations/{id}/approve": _decision("Approve: generate and e-mail the contract"),
            "/organisations/{id}/reject": _decision("Reject with a reason", reason),
            "/organisations/{id}/activate": _decision("Activate after checking the signed contract", {
                "type": "object", "properties": {"contract_date": {"type": "string", "format": "date"}}}),
            "/organisations/{id}/suspend": _decision("Suspend with a reason", reason),
            "/organisations/{id}/contract.pdf": {"get": {
                "summary": "The cooperation contract PDF", "tags": ["organisations"], "parameters": [ORG_ID],
                "responses": {"200": _resp("PDF", {"type": "string", "format": "binary"}, "application/pdf"),
                              **_errors(401, 404)}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": _resp("OpenAPI")}}},
            **holder_paths(),
            **unblock_paths(),
            **handover_paths(),
            **revocation_paths(),
            **report_paths(),
        }),
    }
