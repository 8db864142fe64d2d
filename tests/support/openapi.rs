//! Checks JSON values against the API's OpenAPI document: enough of JSON
//! Schema 2020-12 for what `functions/api/openapi.json` uses (`$ref`,
//! `type`, `const`, `enum`, `properties`, `required`,
//! `additionalProperties`, `unevaluatedProperties`, `items`, `allOf`,
//! `oneOf`, `minimum`, `maximum`). Keywords it does not know are ignored
//! (`format`, `pattern`, `description`, `discriminator`).

use std::collections::BTreeSet;

use serde_json::Value;

/// The document, as the API serves it.
pub fn document() -> Value {
    serde_json::from_str(include_str!("../../functions/api/openapi.json"))
        .expect("openapi.json is JSON")
}

/// Why `value` does not match `schema` (empty when it does).
pub fn violations(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    check(doc, schema, value, "$", &mut found);
    found
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

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

/// Checks `value`; returns the properties it evaluated (for
/// `unevaluatedProperties`).
fn check(
    doc: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
    found: &mut Vec<String>,
) -> BTreeSet<String> {
    let mut evaluated = BTreeSet::new();
    if let Some(reference) = schema["$ref"].as_str() {
        evaluated.extend(check(doc, resolve(doc, reference), value, at, found));
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        found.push(format!("{at}: {value} is not {constant}"));
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        found.push(format!("{at}: {value} is not one of {options:?}"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| type_matches(t, value)) {
        found.push(format!("{at}: {value} is not of type {types:?}"));
        return evaluated;
    }
    if let (Some(n), Some(min)) = (value.as_f64(), schema["minimum"].as_f64())
        && n < min
    {
        found.push(format!("{at}: {n} < minimum {min}"));
    }
    if let (Some(n), Some(max)) = (value.as_f64(), schema["maximum"].as_f64())
        && n > max
    {
        found.push(format!("{at}: {n} > maximum {max}"));
    }
    if let Some(object) = value.as_object() {
        let properties = schema["properties"].as_object();
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                found.push(format!("{at}: `{name}` is required"));
            }
        }
        for (name, item) in object {
            let here = format!("{at}.{name}");
            if let Some(property) = properties.and_then(|p| p.get(name)) {
                check(doc, property, item, &here, found);
                evaluated.insert(name.clone());
            } else {
                match &schema["additionalProperties"] {
                    Value::Bool(false) => found.push(format!("{here}: not in the schema")),
                    Value::Object(_) => {
                        check(doc, &schema["additionalProperties"], item, &here, found);
                        evaluated.insert(name.clone());
                    }
                    _ => {}
                }
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (index, item) in array.iter().enumerate() {
            check(doc, items, item, &format!("{at}[{index}]"), found);
        }
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        evaluated.extend(check(doc, part, value, at, found));
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let mut matching = Vec::new();
        let mut reasons = Vec::new();
        for option in options {
            let mut own = Vec::new();
            let names = check(doc, option, value, at, &mut own);
            if own.is_empty() {
                matching.push(names);
            } else {
                reasons.extend(own);
            }
        }
        match matching.len() {
            1 => evaluated.extend(matching.remove(0)),
            0 => found.push(format!(
                "{at}: matches none of oneOf ({})",
                reasons.join("; ")
            )),
            n => found.push(format!("{at}: matches {n} of oneOf, not one")),
        }
    }
    if schema["unevaluatedProperties"] == Value::Bool(false)
        && let Some(object) = value.as_object()
    {
        for name in object.keys().filter(|n| !evaluated.contains(*n)) {
            found.push(format!("{at}.{name}: not in the schema"));
        }
    }
    evaluated
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
