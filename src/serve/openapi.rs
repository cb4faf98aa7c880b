//! `GET /openapi.json`: the API described as OpenAPI 3.1, with the served
//! chains' names as the allowed values of `{name}`.

use serde_json::{Value, json};

pub fn document(chains: &[&str], token: bool) -> Value {
    let name = json!({
        "name": "name", "in": "path", "required": true,
        "description": "The chain: its file name without the extension",
        "schema": {"type": "string", "enum": chains},
    });
    let run_async = json!({
        "name": "async", "in": "query", "required": false,
        "description": "`true`: answer 202 with the run id at once",
        "schema": {"type": "boolean"},
    });
    let error = json!({"$ref": "#/components/schemas/Error"});
    let failed = json!({"description": "The chain failed: 422 the input did not fit it (a template could not render), 502 a call it made failed, 503 interrupted", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Failure"}}}});
    let plain =
        |d: &str| json!({"description": d, "content": {"application/json": {"schema": error}}});
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "pytopus serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Runs API chains by webhook, by API call and on schedules. See docs/serve.md.",
        },
        "paths": {
            "/hooks/{name}": {"post": {
                "summary": "Webhook: the request becomes the `trigger` variable (body, headers, query) and the chain runs",
                "parameters": [name, run_async],
                "requestBody": {"content": {"application/json": {}, "application/x-www-form-urlencoded": {}, "text/plain": {}}},
                "security": [],
                "responses": {
                    "200": {"description": "The chain's result (its `output`)", "content": {"application/json": {}}},
                    "202": {"description": "Started (`?async=true`)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Started"}}}},
                    "401": plain("The signature did not verify"),
                    "404": plain("No such chain"),
                    "413": {"description": "The body is larger than --max-body"},
                    "422": failed, "502": failed, "503": failed,
                    "429": plain("The chain has trigger.max_concurrent runs going; see Retry-After"),
                    "504": plain("The run took longer than trigger.timeout; it goes on"),
                },
            }},
            "/chains": {"get": {
                "summary": "The served chains: names, descriptions, variables, webhook and schedule",
                "responses": {"200": {"description": "The chains", "content": {"application/json": {}}}},
            }},
            "/chains/{name}/run": {"post": {
                "summary": "Run a chain with variables over its own",
                "parameters": [name, run_async],
                "requestBody": {"required": false, "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {"vars": {"type": "object", "additionalProperties": true}},
                    "additionalProperties": false,
                }}}},
                "responses": {
                    "200": {"description": "The chain's result (its `output`)", "content": {"application/json": {}}},
                    "202": {"description": "Started (`?async=true`)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Started"}}}},
                    "400": plain("The body is not {\"vars\": {...}}"),
                    "404": plain("No such chain"),
                    "422": failed, "502": failed, "503": failed,
                    "429": plain("The chain has trigger.max_concurrent runs going; see Retry-After"),
                    "504": plain("The run took longer than trigger.timeout; it goes on"),
                },
            }},
            "/runs": {"get": {
                "summary": "The last 100 runs, newest first",
                "responses": {"200": {"description": "Runs", "content": {"application/json": {}}}},
            }},
            "/runs/{id}": {"get": {
                "summary": "A run: `running`, or its status, output, error and report",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The run", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Run"}}}},
                    "404": plain("Unknown, or forgotten (the last 1000 are kept)"),
                },
            }},
            "/healthz": {"get": {
                "summary": "Liveness",
                "responses": {"200": {"description": "`{\"status\": \"ok\"}`", "content": {"application/json": {}}}},
            }},
            "/metrics": {"get": {
                "summary": "The metrics of every run since start, with the names and labels of `pytopus run --metrics`",
                "responses": {"200": {"description": "Prometheus text exposition format 0.0.4", "content": {"text/plain": {}}}},
            }},
            "/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
            }},
        },
        "components": {
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
                "Started": {"type": "object", "properties": {
                    "run_id": {"type": "string"}, "status": {"const": "running"}, "status_url": {"type": "string"},
                }},
                "Failure": {"type": "object", "properties": {
                    "run_id": {"type": "string"}, "chain": {"type": "string"},
                    "status": {"enum": ["failed", "interrupted"]},
                    "error": {"type": ["string", "null"], "description": "What failed and where, as `pytopus run` prints it"},
                    "report": {"type": "object", "description": "The run's JSON report, as `--report` writes it"},
                }},
                "Run": {"type": "object", "properties": {
                    "id": {"type": "string"}, "chain": {"type": "string"},
                    "trigger": {"enum": ["webhook", "api", "schedule"]},
                    "status": {"enum": ["running", "passed", "failed", "interrupted"]},
                    "started_at": {"type": "string", "format": "date-time"},
                    "duration_ms": {"type": "integer"},
                    "output": {}, "error": {"type": ["string", "null"]}, "report": {"type": "object"},
                }},
            },
        },
    });
    if token {
        doc["components"]["securitySchemes"] =
            json!({"token": {"type": "http", "scheme": "bearer"}});
        doc["security"] = json!([{"token": []}]);
    }
    doc
}
