//! Checks JSON values against the API's OpenAPI document with the
//! `jsonschema` crate: JSON Schema 2020-12, as OpenAPI 3.1 uses it, with
//! formats (`date`, `date-time`) and patterns checked. OpenAPI's own
//! keywords (`discriminator`) are annotations and change nothing.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, LazyLock, Mutex};

use jsonschema::Validator;
use serde_json::{Value, json};

/// The document, as the API serves it.
pub fn document() -> Value {
    serde_json::from_str(include_str!("../../functions/api/openapi.json"))
        .expect("openapi.json is JSON")
}

/// Why `value` does not match `schema`, whose `#/components/...`
/// references are `doc`'s (empty when it does).
pub fn violations(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    validator(doc, schema)
        .iter_errors(value)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

/// The validator of `schema` within `doc`, built once per schema.
fn validator(doc: &Value, schema: &Value) -> Arc<Validator> {
    static BUILT: LazyLock<Mutex<HashMap<u64, Arc<Validator>>>> = LazyLock::new(Default::default);
    let key = {
        let mut hasher = DefaultHasher::new();
        (schema.to_string(), doc["components"].to_string()).hash(&mut hasher);
        hasher.finish()
    };
    let mut built = BUILT.lock().unwrap();
    built
        .entry(key)
        .or_insert_with(|| {
            // The schema with the document's components beside it, so its
            // references resolve as they do in the document.
            let mut root = json!({ "components": doc["components"] });
            for (name, value) in schema.as_object().expect("a schema object") {
                root[name] = value.clone();
            }
            let validator = jsonschema::options()
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|e| panic!("the document's schema {schema} does not build: {e}"));
            Arc::new(validator)
        })
        .clone()
}

/// The schema of the JSON answer `method path` (a template, as in the
/// document) gives with `status`; `None` when the document has no JSON
/// body for it; an error when it does not document the answer at all.
pub fn response_schema(
    doc: &Value,
    method: &str,
    path: &str,
    status: u16,
) -> Result<Option<Value>, String> {
    let operation = &doc["paths"][path][method.to_lowercase()];
    if operation.is_null() {
        return Err(format!("{method} {path} is not in the document"));
    }
    let mut response = &operation["responses"][status.to_string()];
    if response.is_null() {
        return Err(format!("{method} {path} does not document status {status}"));
    }
    if let Some(reference) = response["$ref"].as_str() {
        response = resolve(doc, reference);
    }
    Ok(response["content"]["application/json"]["schema"]
        .as_object()
        .map(|s| Value::Object(s.clone())))
}

fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference.strip_prefix('#').unwrap_or(reference);
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("{reference} is not in the document"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn formats_and_patterns_are_checked() {
        let doc = json!({"components": {"schemas": {
            "Day": {"type": "string", "format": "date"},
            "Code": {"type": "string", "pattern": "^[0-9]{9}[A-Z]$"}
        }}});
        let day = json!({"$ref": "#/components/schemas/Day"});
        let code = json!({"$ref": "#/components/schemas/Code"});
        assert!(violations(&doc, &day, &json!("2026-03-15")).is_empty());
        assert!(!violations(&doc, &day, &json!("2026-13-15")).is_empty());
        assert!(violations(&doc, &code, &json!("376550000A")).is_empty());
        assert!(!violations(&doc, &code, &json!("37655000A")).is_empty());
    }

    #[test]
    fn the_checker_catches_what_it_claims_to() {
        let doc = json!({"components": {"schemas": {
            "Base": {"type": "object", "properties": {"a": {"type": "integer", "minimum": 0}}, "required": ["a"]},
            "View": {"allOf": [{"$ref": "#/components/schemas/Base"}], "properties": {"b": {"enum": ["x", "y"]}}, "unevaluatedProperties": false},
            "Either": {"oneOf": [{"const": "passed"}, {"type": "object", "properties": {"not_passed": {"type": "string"}}, "additionalProperties": false}]}
        }}});
        let view = json!({"$ref": "#/components/schemas/View"});
        let either = json!({"$ref": "#/components/schemas/Either"});
        assert!(violations(&doc, &view, &json!({"a": 1, "b": "x"})).is_empty());
        for bad in [
            json!({"b": "x"}),
            json!({"a": -1}),
            json!({"a": "1"}),
            json!({"a": 1, "b": "z"}),
            json!({"a": 1, "c": 0}),
        ] {
            assert!(!violations(&doc, &view, &bad).is_empty(), "{bad}");
        }
        assert!(violations(&doc, &either, &json!("passed")).is_empty());
        assert!(violations(&doc, &either, &json!({"not_passed": "x"})).is_empty());
        assert!(!violations(&doc, &either, &json!({"other": 1})).is_empty());
        assert!(!violations(&doc, &either, &json!("failed")).is_empty());
    }
}
