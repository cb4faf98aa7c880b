//! `pytopus connectors import`: an OpenAPI 3 document made into a connector
//! file (docs/connectors.md).
//!
//! # Which OpenAPI crate
//!
//! The document is read into the types of [`oas3`], not `openapiv3`:
//!
//! - `openapiv3` (2.x) models OpenAPI 3.0 only, and says so. A 3.1 document
//!   that uses a JSON Schema type list (`type: [string, 'null']`, the 3.1 way
//!   to say "nullable") fails to deserialize, reported at `paths` without
//!   more detail, and it has no `$ref` helpers beyond `ReferenceOr::as_item`.
//! - `oas3` models 3.1, the current line (released regularly; keeps map
//!   order; has `$ref` helpers). Its types also read 3.0 documents, except
//!   for a few 3.0 forms that `normalize` rewrites first: boolean
//!   `exclusiveMinimum`/`exclusiveMaximum` (3.1 made them numbers), and
//!   relative OAuth2 URLs (`oas3` types them as absolute `url::Url`), and
//!   the common slip `required: true` on a property (read as listing it in
//!   the object's `required`). 3.0's
//!   `nullable` is ignored by `oas3`, which is fine here. `Spec::validate_version`
//!   accepts only `~3.1`, so it is not called: the version is checked here
//!   (3.0 and 3.1 read; 3.2+ read as 3.1 with a warning; Swagger 2.0 refused).
//!
//! YAML is read with serde-saphyr into a `serde_json::Value`, which is
//! normalized and then deserialized into [`oas3::Spec`] through
//! `serde_path_to_error`, so an error names where the document went wrong
//! (`oas3`'s own `from_yaml` needs its `yaml-spec` feature: a second YAML
//! parser). Parts of the document the importer never reads (responses,
//! callbacks, examples, tags, contact, license, webhooks) are dropped before
//! that, so an oddity there cannot fail an import.
//!
//! `$ref`s are followed for parameters, request bodies, schemas and security
//! schemes, inside the document only (`#/components/...`), up to
//! `MAX_REF_DEPTH` links (which also stops cycles).

use serde_json::Value;

mod importer;
mod names;
mod read;

use importer::*;
use names::*;
use read::*;

/// Stand-in origin for relative OAuth2 URLs, which `oas3` can only hold as
/// absolute URLs; taken off again when the `auth:` block is written.
const RELATIVE_BASE: &str = "https://relative.invalid";
/// How many `$ref` links are followed before giving up.
const MAX_REF_DEPTH: usize = 16;
/// Longest connector name made from a title.
const MAX_NAME_LEN: usize = 40;
/// The operation keys of a path item.
const METHOD_KEYS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The result of an import: the connector file and what the person should know.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The connector file, keys in the order of docs/connectors.md.
    pub connector: Value,
    /// What could not be carried over, or needs doing by hand.
    pub warnings: Vec<String>,
}

/// Why a document could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not parseable YAML or JSON.
    #[error("{}", syntax_message(.format, .message, *.line, *.column))]
    Syntax {
        /// `YAML` or `JSON`.
        format: &'static str,
        message: String,
        /// 1-based, when the parser knows it.
        line: Option<u64>,
        column: Option<u64>,
    },
    #[error("Swagger 2.0 is not supported; convert it to OpenAPI 3 first")]
    Swagger2,
    #[error("not an OpenAPI document: it has no `openapi` version field")]
    NotOpenApi,
    #[error("OpenAPI {0} is not supported; only OpenAPI 3.0 and 3.1 are")]
    UnsupportedVersion(String),
    /// The document does not have the shape of OpenAPI 3.
    #[error("not a valid OpenAPI document: at `{path}`: {message}")]
    Invalid { path: String, message: String },
    #[error("the document has no operations under `paths`: nothing to import")]
    NoOperations,
}

fn syntax_message(format: &str, message: &str, line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("invalid {format} at line {l}, column {c}: {message}"),
        (Some(l), None) => format!("invalid {format} at line {l}: {message}"),
        _ => format!("invalid {format}: {message}"),
    }
}

/// serde's message for a value that fits no variant, in OpenAPI terms.
fn shape_message(message: &str) -> String {
    match message.strip_prefix("data did not match any variant of untagged enum ") {
        Some("ObjectOrReference") => "neither a `$ref` nor the object that belongs here".into(),
        Some("Schema") => "not a valid schema".into(),
        Some(other) => format!("not a valid {other}"),
        None => message.to_string(),
    }
}

/// Reads an OpenAPI 3.0 or 3.1 document (YAML or JSON) and makes a connector
/// of it. `name_hint` is the connector's name; without it the name comes
/// from `info.title`.
pub fn import(text: &str, name_hint: Option<&str>) -> Result<Imported, ImportError> {
    let mut doc = read_document(text)?;
    let mut warnings = Vec::new();
    check_version(&mut doc, &mut warnings)?;
    let docs = doc
        .pointer("/externalDocs/url")
        .and_then(Value::as_str)
        .map(str::to_string);
    normalize(&mut doc, &mut warnings);
    let spec: oas3::Spec =
        serde_path_to_error::deserialize(doc).map_err(|e| ImportError::Invalid {
            path: e.path().to_string(),
            message: shape_message(&e.inner().to_string()),
        })?;
    let has_operations = spec
        .paths
        .iter()
        .flatten()
        .any(|(_, item)| item.methods().into_iter().next().is_some());
    if !has_operations {
        return Err(ImportError::NoOperations);
    }
    let name = connector_name(&spec.info.title, name_hint, &mut warnings);
    let importer = Importer {
        spec: &spec,
        name,
        warnings,
    };
    Ok(importer.run(docs))
}

/// The connector as a readable YAML file.
pub fn to_yaml(connector: &Value) -> String {
    match serde_saphyr::to_string(connector) {
        Ok(yaml) => yaml,
        // JSON is YAML too; serializing a `Value` is not expected to fail.
        Err(_) => serde_json::to_string_pretty(connector).unwrap_or_default() + "\n",
    }
}

// ---------------------------------------------------------------- reading

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PETSTORE: &str = include_str!("../../../tests/fixtures/openapi/petstore.yaml");
    const TASKS_31: &str = include_str!("../../../tests/fixtures/openapi/tasks-3.1.yaml");
    const SWAGGER_2: &str = include_str!("../../../tests/fixtures/openapi/swagger-2.0.yaml");

    fn ok(text: &str) -> Imported {
        import(text, None).unwrap_or_else(|e| panic!("import failed: {e}"))
    }

    fn has_warning(imported: &Imported, needle: &str) -> bool {
        imported.warnings.iter().any(|w| w.contains(needle))
    }

    /// A small 3.0 document around one security scheme.
    fn with_scheme(scheme: Value, servers: &str) -> String {
        let doc = json!({
            "openapi": "3.0.3",
            "info": {"title": "Acme", "version": "1"},
            "servers": [{"url": servers}],
            "security": [{"main": ["read", "write"]}],
            "paths": {"/things": {"get": {"operationId": "listThings",
                "responses": {"200": {"description": "OK"}}}}},
            "components": {"securitySchemes": {"main": scheme}},
        });
        serde_json::to_string_pretty(&doc).unwrap()
    }

    #[test]
    fn petstore_keys_in_the_documented_order() {
        let c = ok(PETSTORE).connector;
        let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "name",
                "description",
                "docs",
                "base_url",
                "auth",
                "endpoints",
                "test"
            ]
        );
        assert_eq!(c["name"], "swagger_petstore_openapi_3_0");
        assert_eq!(c["description"], "Swagger Petstore - OpenAPI 3.0");
        assert_eq!(c["docs"], "https://swagger.io");
        assert_eq!(c["base_url"], "/api/v3");
    }

    #[test]
    fn petstore_endpoints() {
        let imported = ok(PETSTORE);
        let endpoints = imported.connector["endpoints"].as_object().unwrap();
        assert_eq!(endpoints.len(), 19);
        let names: Vec<&str> = endpoints.keys().map(String::as_str).collect();
        assert_eq!(
            &names[..5],
            [
                "update_pet",
                "add_pet",
                "find_pets_by_status",
                "find_pets_by_tags",
                "get_pet_by_id"
            ]
        );
        assert_eq!(
            endpoints["get_pet_by_id"],
            json!({"description": "Find pet by ID.", "method": "GET", "path": "/pet/{petId}"})
        );
        assert_eq!(
            endpoints["find_pets_by_status"],
            json!({
                "description": "Finds Pets by status.",
                "method": "GET",
                "path": "/pet/findByStatus",
                "query": {"status": "available"},
            })
        );
        assert_eq!(
            endpoints["find_pets_by_tags"]["query"],
            json!({"tags": null})
        );
        assert_eq!(
            endpoints["update_pet_with_form"]["query"],
            json!({"name": null, "status": null})
        );
        assert_eq!(endpoints["delete_pet"]["method"], "DELETE");
        assert_eq!(endpoints["login_user"]["path"], "/user/login");
        // The body of addPet, from `$ref: '#/components/schemas/Pet'`.
        assert_eq!(
            endpoints["add_pet"],
            json!({
                "description": "Add a new pet to the store.",
                "method": "POST",
                "path": "/pet",
                "body": {
                    "id": "{{ params.id | default(none) }}",
                    "name": "{{ params.name }}",
                    "category": "{{ params.category | default(none) }}",
                    "photoUrls": "{{ params.photoUrls }}",
                    "tags": "{{ params.tags | default(none) }}",
                    "status": "{{ params.status | default(none) }}",
                },
            })
        );
        // An array body is one parameter.
        assert_eq!(
            endpoints["create_users_with_list_input"]["body"],
            "{{ params.body }}"
        );
        // application/octet-stream only: no body, a warning.
        assert!(endpoints["upload_file"].get("body").is_none());
        assert!(has_warning(
            &imported,
            "upload_file: the request body (application/octet-stream) is not JSON"
        ));
        // deletePet's `api_key` header is the auth's key: no warning for it.
        assert!(!has_warning(&imported, "`api_key` not imported"));
        assert_eq!(
            imported.connector["test"],
            json!({"endpoint": "find_pets_by_status"})
        );
    }

    #[test]
    fn petstore_auth_falls_back_from_implicit_oauth2_to_the_api_key() {
        let imported = import(PETSTORE, Some("petstore")).unwrap();
        assert_eq!(
            imported.connector["auth"],
            json!({
                "type": "api_key",
                "in": "header",
                "name": "api_key",
                "key": "{{ secret('petstore_key') }}",
            })
        );
        assert!(has_warning(
            &imported,
            "security scheme `petstore_auth` (OAuth2 implicit flow"
        ));
        assert!(has_warning(&imported, "`auth` uses `api_key` instead"));
        assert!(imported.warnings.contains(
            &"base_url is relative (/api/v3): set it with PYTOPUS_PETSTORE_BASE_URL or in the chain"
                .to_string()
        ));
    }

    #[test]
    fn names() {
        assert_eq!(
            ok(PETSTORE).connector["name"],
            "swagger_petstore_openapi_3_0"
        );
        let hinted = import(PETSTORE, Some("pets")).unwrap();
        assert_eq!(hinted.connector["name"], "pets");
        assert!(hinted.warnings.iter().all(|w| !w.contains("the name")));
        let fixed = import(PETSTORE, Some("My Pets!")).unwrap();
        assert_eq!(fixed.connector["name"], "my_pets");
        assert!(has_warning(&fixed, "the name `My Pets!` is not [a-z0-9_-]"));
        assert_eq!(
            import(PETSTORE, Some("pet-store")).unwrap().connector["name"],
            "pet-store"
        );

        assert_eq!(slug("GitHub v3 REST API", false), "github_v3_rest_api");
        assert_eq!(slug("  --Stripe-- ", false), "stripe");
        assert_eq!(slug("123 Go", false), "api_123_go");
        assert_eq!(slug("日本語", false), "api");
        assert_eq!(slug(&"word ".repeat(20), false).len(), 39);

        assert_eq!(snake_case("getPetById"), "get_pet_by_id");
        assert_eq!(snake_case("getHTTPResponseCode"), "get_http_response_code");
        assert_eq!(snake_case("create-task"), "create_task");
        assert_eq!(snake_case("repos/list-for-org"), "repos_list_for_org");
        assert_eq!(snake_case("v2GetUser"), "v2_get_user");
        assert_eq!(snake_case("get /pets/{petId}"), "get_pets_pet_id");
        assert_eq!(snake_case("2fa.enable"), "op_2fa_enable");

        assert_eq!(param_ident("photoUrls"), "photoUrls");
        assert_eq!(param_ident("due-date"), "due_date");
        assert_eq!(param_ident("X-Request-ID"), "x_request_id");
        assert_eq!(param_ident("$top"), "top");
        assert_eq!(param_ident("1st"), "p_1st");
    }

    #[test]
    fn missing_operation_ids_and_collisions() {
        let imported = ok(TASKS_31);
        let endpoints = imported.connector["endpoints"].as_object().unwrap();
        // GET /tasks/{taskId} has no operationId; the DELETE's operationId
        // makes the same name.
        assert_eq!(endpoints["get_tasks_task_id"]["method"], "GET");
        assert_eq!(endpoints["get_tasks_task_id_2"]["method"], "DELETE");
        assert!(
            imported.warnings.contains(
                &"DELETE /tasks/{taskId}: the name `get_tasks_task_id` is taken: \
              the endpoint is `get_tasks_task_id_2`"
                    .to_string()
            )
        );
        assert_eq!(endpoints["create_task"]["path"], "/tasks");
    }

    #[test]
    fn openapi_3_1_document() {
        let imported = ok(TASKS_31);
        let c = &imported.connector;
        assert_eq!(c["name"], "tasks_api_v2");
        // Server variables filled in, trailing slash dropped.
        assert_eq!(c["base_url"], "https://eu.tasks.example.com/v2");
        assert!(has_warning(
            &imported,
            "the others are https://sandbox.tasks.example.com/v2"
        ));
        assert_eq!(
            c["auth"],
            json!({"type": "bearer", "token": "{{ secret('tasks_api_v2_token') }}"})
        );
        // basicAuth is declared but used by nothing: no warning about it.
        assert!(!has_warning(&imported, "basicAuth"));
        let e = &c["endpoints"];
        assert_eq!(
            e["list_tasks"],
            json!({
                "description": "List tasks (required query parameters: due_before)",
                "method": "GET",
                "path": "/tasks",
                "query": {"limit": 20, "status": null, "due_before": null},
            })
        );
        assert_eq!(
            e["create_task"]["headers"],
            json!({"Idempotency-Key": "{{ params.idempotency_key }}"})
        );
        assert!(has_warning(
            &imported,
            "create_task: optional header parameter `X-Trace` not imported"
        ));
        // `$ref` request body; `due-date` is not an identifier; a default.
        assert_eq!(
            e["create_task"]["body"],
            json!({
                "title": "{{ params.title }}",
                "due-date": "{{ params.due_date | default(none) }}",
                "priority": "{{ params.priority | default(3) }}",
            })
        );
        // allOf parts are merged.
        assert_eq!(e["replace_task"]["body"]["done"], "{{ params.done }}");
        assert_eq!(e["replace_task"]["body"]["title"], "{{ params.title }}");
        assert_eq!(e["set_tags"]["body"], "{{ params.body }}");
        assert_eq!(
            e["get_tasks_task_id_2"]["description"],
            "Deletes the task. Its operationId collides with the name made for the GET above, on purpose."
        );
        assert!(has_warning(&imported, "1 webhook(s) not imported"));
        // list_tasks needs due_before, get_tasks_task_id needs taskId.
        assert_eq!(c["test"], json!({"endpoint": "health"}));
    }

    #[test]
    fn swagger_2_is_refused() {
        let err = import(SWAGGER_2, None).unwrap_err();
        assert!(matches!(err, ImportError::Swagger2));
        assert_eq!(
            err.to_string(),
            "Swagger 2.0 is not supported; convert it to OpenAPI 3 first"
        );
        let json = r#"{"swagger": "2.0", "info": {"title": "x", "version": "1"}, "paths": {}}"#;
        assert!(matches!(import(json, None), Err(ImportError::Swagger2)));
        // A YAML flow mapping starts with `{` too.
        let flow = "{swagger: '2.0', info: {title: x, version: '1'}, paths: {}}";
        assert!(matches!(import(flow, None), Err(ImportError::Swagger2)));
    }

    #[test]
    fn invalid_yaml_names_line_and_column() {
        let err = import("openapi: 3.0.0\ninfo:\n  title: x\n version: 1\n", None).unwrap_err();
        let ImportError::Syntax {
            format,
            line,
            column,
            ..
        } = &err
        else {
            panic!("not a syntax error: {err}");
        };
        assert_eq!(*format, "YAML");
        assert_eq!(*line, Some(4));
        assert!(column.is_some());
        let text = err.to_string();
        assert!(
            text.starts_with("invalid YAML at line 4, column "),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn invalid_json_names_line_and_column() {
        let err = import("{\n  \"openapi\": \"3.1.0\",\n  \"info\": }\n", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid JSON at line 3, column 11: expected value"
        );
    }

    #[test]
    fn json_documents_are_read() {
        let yaml: Value = serde_saphyr::from_str(PETSTORE).unwrap();
        let json = serde_json::to_string(&yaml).unwrap();
        assert_eq!(ok(&json).connector, ok(PETSTORE).connector);
    }

    #[test]
    fn not_openapi_and_other_versions() {
        assert!(matches!(
            import("title: hello\n", None),
            Err(ImportError::NotOpenApi)
        ));
        assert!(matches!(
            import("- a\n- b\n", None),
            Err(ImportError::NotOpenApi)
        ));
        assert!(matches!(import("", None), Err(ImportError::NotOpenApi)));
        let v4 = "openapi: 4.0.0\ninfo: {title: x, version: '1'}\npaths: {}\n";
        let err = import(v4, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "OpenAPI 4.0.0 is not supported; only OpenAPI 3.0 and 3.1 are"
        );
        let v32 = "openapi: 3.2.0\ninfo: {title: x, version: 1.0}\n\
                   paths: {/a: {get: {responses: {200: {description: ok}}}}}\n";
        let imported = ok(v32);
        assert_eq!(imported.connector["endpoints"]["get_a"]["path"], "/a");
        assert!(has_warning(&imported, "it is read as OpenAPI 3.1"));
        // Unquoted `openapi: 3.1` is a number in YAML.
        let num = "openapi: 3.1\ninfo: {title: x, version: 2}\npaths: {/a: {get: {}}}\n";
        assert_eq!(ok(num).connector["endpoints"]["get_a"]["method"], "GET");
    }

    #[test]
    fn no_operations_and_bad_shapes() {
        let empty = "openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths: {}\n";
        assert!(matches!(
            import(empty, None),
            Err(ImportError::NoOperations)
        ));
        let bad = "openapi: 3.0.0\ninfo: {title: x, version: '1'}\n\
                   paths: {/a: {get: {parameters: [{name: q, in: body}]}}}\n";
        let err = import(bad, None).unwrap_err();
        let ImportError::Invalid { path, .. } = &err else {
            panic!("not Invalid: {err}");
        };
        assert!(path.starts_with("paths./a.get.parameters"), "{path}");
        assert!(
            err.to_string()
                .starts_with("not a valid OpenAPI document: at `paths./a.get")
        );
    }

    #[test]
    fn openapi_3_0_forms_are_accepted() {
        // Boolean exclusiveMinimum (3.0) in a schema, a relative tokenUrl,
        // and client credentials.
        let doc = r#"
openapi: 3.0.3
info: {title: Acme Billing, version: 1.0}
servers:
  - url: https://api.acme.test/billing/
security:
  - cc: [invoices:read]
paths:
  /invoices:
    get:
      operationId: listInvoices
      parameters:
        - name: min_total
          in: query
          schema: {type: number, minimum: 0, exclusiveMinimum: true, nullable: true}
        - name: filter
          in: query
          schema: {type: object}
          style: deepObject
        - name: ids
          in: query
          explode: false
          schema: {type: array, items: {type: string}}
        - name: note
          in: query
          schema: {type: string, default: "{{ not a template }}"}
    post:
      operationId: createInvoice
      requestBody:
        content:
          application/json; charset=utf-8:
            schema:
              type: object
              properties:
                id: {type: string, readOnly: true}
                total: {type: number, required: true}
                currency: {type: string, default: EUR}
components:
  securitySchemes:
    cc:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: /oauth/token
          scopes: {invoices:read: read, invoices:write: write}
        authorizationCode:
          authorizationUrl: /oauth/authorize
          tokenUrl: /oauth/token
          scopes: {}
"#;
        let imported = import(doc, Some("acme")).unwrap();
        assert_eq!(
            imported.connector["auth"],
            json!({
                "type": "oauth2",
                "grant": "client_credentials",
                "token_url": "https://api.acme.test/oauth/token",
                "client_id": "{{ secret('acme_client_id') }}",
                "client_secret": "{{ secret('acme_client_secret') }}",
                "scope": "invoices:read",
            })
        );
        assert!(has_warning(
            &imported,
            "offers the OAuth2 flows clientCredentials, authorizationCode: `auth` uses the first"
        ));
        let e = &imported.connector["endpoints"]["list_invoices"];
        assert_eq!(e["query"]["min_total"], Value::Null);
        assert_eq!(
            e["query"]["note"],
            "{% raw %}{{ not a template }}{% endraw %}"
        );
        assert!(has_warning(
            &imported,
            "query parameter `filter` is an object"
        ));
        assert!(has_warning(
            &imported,
            "query parameter `ids` wants its values comma-separated"
        ));
        assert_eq!(
            imported.connector["base_url"],
            "https://api.acme.test/billing"
        );
        // readOnly left out; `required: true` on a property understood.
        assert_eq!(
            imported.connector["endpoints"]["create_invoice"]["body"],
            json!({
                "total": "{{ params.total }}",
                "currency": "{{ params.currency | default('EUR') }}",
            })
        );
    }

    #[test]
    fn a_query_api_key_is_not_also_a_parameter() {
        let doc = json!({
            "openapi": "3.0.0",
            "info": {"title": "Weather", "version": "1"},
            "servers": [{"url": "https://w.test/data/2.5"}],
            "security": [{"appid": []}],
            "paths": {"/weather": {"get": {"operationId": "current", "parameters": [
                {"name": "q", "in": "query", "required": true, "schema": {"type": "string"}},
                {"name": "appid", "in": "query", "required": true, "schema": {"type": "string"}},
            ]}}},
            "components": {"securitySchemes": {
                "appid": {"type": "apiKey", "in": "query", "name": "appid"}}},
        });
        let imported = ok(&doc.to_string());
        let c = &imported.connector;
        assert_eq!(c["endpoints"]["current"]["query"], json!({"q": null}));
        assert_eq!(
            c["endpoints"]["current"]["description"],
            "Required query parameters: q"
        );
        assert_eq!(c["auth"]["in"], "query");
        assert!(c.get("test").is_none());
        assert!(has_warning(
            &imported,
            "no GET endpoint without required parameters"
        ));
    }

    #[test]
    fn auth_schemes() {
        let auth_of = |scheme: Value, server: &str| {
            let imported = import(&with_scheme(scheme, server), None).unwrap();
            (imported.connector.get("auth").cloned(), imported.warnings)
        };
        let (auth, _) = auth_of(json!({"type": "http", "scheme": "Basic"}), "https://a.test");
        assert_eq!(
            auth.unwrap(),
            json!({
                "type": "basic",
                "username": "{{ secret('acme_username') }}",
                "password": "{{ secret('acme_password') }}",
            })
        );
        let (auth, _) = auth_of(
            json!({"type": "apiKey", "in": "query", "name": "apikey"}),
            "https://a.test",
        );
        assert_eq!(
            auth.unwrap(),
            json!({"type": "api_key", "in": "query", "name": "apikey",
                   "key": "{{ secret('acme_key') }}"})
        );
        let (auth, warnings) = auth_of(
            json!({"type": "oauth2", "flows": {"authorizationCode": {
                "authorizationUrl": "https://id.acme.test/authorize",
                "tokenUrl": "https://id.acme.test/token",
                "scopes": {"read": "", "write": "", "admin": ""}}}}),
            "https://a.test",
        );
        assert_eq!(
            auth.unwrap(),
            json!({
                "type": "oauth2",
                "grant": "authorization_code",
                "token_url": "https://id.acme.test/token",
                "client_id": "{{ secret('acme_client_id') }}",
                "scope": "read write",
                "refresh_token": "{{ secret('acme') }}",
                "authorize_url": "https://id.acme.test/authorize",
            })
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("pytopus auth login acme"))
        );
        let (auth, warnings) = auth_of(
            json!({"type": "oauth2", "flows": {"password": {
                "tokenUrl": "token", "scopes": {}}}}),
            "/v1",
        );
        let auth = auth.unwrap();
        assert_eq!(auth["grant"], "password");
        assert_eq!(auth["token_url"], "/token");
        assert_eq!(auth["username"], "{{ secret('acme_username') }}");
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("`tokenUrl` is relative (/token)"))
        );
        let (auth, warnings) = auth_of(
            json!({"type": "openIdConnect",
                   "openIdConnectUrl": "https://id.acme.test/.well-known/openid-configuration"}),
            "https://a.test",
        );
        assert!(auth.is_none());
        assert!(warnings.iter().any(|w| w.contains("OpenID Connect")));
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("the connector has none"))
        );
        let (auth, warnings) = auth_of(
            json!({"type": "http", "scheme": "digest"}),
            "https://a.test",
        );
        assert!(auth.is_none());
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("HTTP `digest` authentication"))
        );
    }

    #[test]
    fn several_schemes_the_global_one_wins() {
        let doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "Multi", "version": "1"},
            "servers": [{"url": "https://m.test"}],
            "security": [{"key": []}],
            "paths": {"/a": {"get": {"security": [{"basic": []}]}},
                      "/b": {"get": {"security": [{"key": [], "other": []}]}}},
            "components": {"securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
                "other": {"type": "apiKey", "in": "header", "name": "X-Other"},
            }},
        });
        let imported = ok(&doc.to_string());
        assert_eq!(imported.connector["auth"]["name"], "X-Key");
        assert!(has_warning(
            &imported,
            "security scheme `basic` is not imported"
        ));
        assert!(has_warning(
            &imported,
            "security scheme `other` is not imported"
        ));
        assert!(has_warning(
            &imported,
            "needs `key` together with other schemes"
        ));
    }

    #[test]
    fn yaml_output_reads_back() {
        for doc in [PETSTORE, TASKS_31] {
            let connector = ok(doc).connector;
            let yaml = to_yaml(&connector);
            let back: Value = serde_saphyr::from_str(&yaml).unwrap();
            assert_eq!(back, connector);
        }
        let tricky = json!({"name": "x", "base_url": "/", "endpoints": {"e": {"path": "/", "query": {
            "a": "true", "b": "1.0", "c": "null", "d": "", "e": "- x", "f": "a: b", "g": "#c",
            "h": "two\nlines", "i": "yes", "j": "0123", "k": "{{ params.k }}", "l": 1.5,
            "m": [1, "2"], "n": {}}}}});
        let back: Value = serde_saphyr::from_str(&to_yaml(&tricky)).unwrap();
        assert_eq!(back, tricky);
        let yaml = to_yaml(&ok(PETSTORE).connector);
        assert!(
            yaml.starts_with("name: swagger_petstore_openapi_3_0\n"),
            "{yaml}"
        );
        assert!(yaml.contains("\n  get_pet_by_id:\n    description: Find pet by ID.\n    method: GET\n    path: /pet/{petId}\n"), "{yaml}");
    }
}
