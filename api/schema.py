"""The OpenAPI document tells the truth: every status the API can answer, every path.

drf-spectacular documents what the serializers say; these post-processing steps add
what they cannot know:

- **errors**: each operation lists the 4xx/5xx it can return (400 for a bad parameter
  or body, 401/403 on writes, 404 on an id, 406 for an Accept it cannot meet, 409 on
  a conflict, 413/415 on a body, 429 when throttled, 503 with the database down),
  all as a JSON object;
- **text without NUL**: PostgreSQL cannot store U+0000, so the API refuses it (400);
  every free-text string says so with a pattern, so a client (or a fuzzer) knows a
  NUL makes a request invalid;
- **the ladder and the export**: plain Django views under /api/, described here.
"""

from __future__ import annotations

import copy
from typing import Any

ERROR = {
    "type": "object",
    "description": '`{"detail": "..."}`, or each bad field (or parameter) with its '
    "messages.",
}
NO_NUL = "^[^\\u0000]*$"
WRITES = {"post", "put", "patch", "delete"}


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
        },
    }


def _statuses(path: str, method: str, operation: dict) -> dict[str, str]:
    statuses = {
        "406": "The Accept header asks for a type the API does not serve.",
        "429": "Throttled; see Retry-After.",
        "503": "The database is unreachable; see Retry-After.",
    }
    if operation.get("parameters") or operation.get("requestBody"):
        statuses["400"] = "A parameter or a field of the body is invalid."
    if "{id}" in path:
        statuses["404"] = "No such object."
    if method in WRITES:
        statuses["401"] = "No credentials, or an expired or unknown token."
        statuses["403"] = "Signed in, but not allowed to do this."
    if operation.get("requestBody"):
        statuses["400"] = "The body is malformed or a field is invalid."
        statuses["413"] = "The body is larger than the server accepts."
        statuses["415"] = "The body is neither JSON nor a form."
    return statuses


def _forbid_nul(schema: Any) -> None:
    """Add the no-NUL pattern to every free-text string in a schema, in place."""
    if isinstance(schema, dict):
        free_text = (
            schema.get("type") == "string"
            and not {"format", "enum", "pattern"} & set(schema)
            and not schema.get("readOnly")
        )
        if free_text:
            schema["pattern"] = NO_NUL
        for value in schema.values():
            _forbid_nul(value)
    elif isinstance(schema, list):
        for value in schema:
            _forbid_nul(value)


def _ladder_paths(paths: dict) -> dict:
    """The ladder's rungs take /api/books/'s parameters and return its page."""
    from api.ladder import RUNGS

    books = paths.get("/api/books/", {}).get("get")
    if books is None:
        return {}
    added = {}
    for rung in RUNGS:
        operation = copy.deepcopy(books)
        operation["operationId"] = f"ladder_{rung}_books"
        operation["tags"] = ["ladder"]
        operation["summary"] = f"The book list built by the '{rung}' rung"
        added[f"/api/ladder/{rung}/books/"] = {"get": operation}
    added["/api/ladder/ceiling/"] = {
        "get": {
            "operationId": "ladder_ceiling",
            "tags": ["ladder"],
            "summary": "Constant JSON through the stack, no database",
            "responses": {
                "200": {
                    "description": "An empty page.",
                    "content": {
                        "application/json": {
                            "schema": books["responses"]["200"]["content"][
                                "application/json"
                            ]["schema"]
                        }
                    },
                }
            },
        }
    }
    return added


def postprocess(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular POSTPROCESSING_HOOKS entry (after its own enum hook)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    paths = result.setdefault("paths", {})
    paths.update(_ladder_paths(paths))
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in _statuses(path, method, operation).items():
                responses.setdefault(status, _error(description))
            _forbid_nul(operation.get("parameters"))
            if method == "get" and {} not in operation.get("security", [{}]):
                operation["security"].append({})  # anyone may read everything
    for schema in result["components"]["schemas"].values():
        _forbid_nul(schema)
    return result
