//! The SAM template and the code agree on the table: the local stack and the
//! tests create exactly what `template.yaml` deploys.

use dynamodb_store::table::{TableDefinition, definition};
use serde_yaml::Value;

fn template() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
        .expect("template.yaml at the repository root");
    serde_yaml::from_str(&text).expect("template.yaml parses")
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string"))
}

fn keys(schema: &Value) -> (String, String) {
    let mut hash = String::new();
    let mut range = String::new();
    for key in schema.as_sequence().expect("a key schema") {
        match str_of(key, "KeyType") {
            "HASH" => hash = str_of(key, "AttributeName").to_string(),
            "RANGE" => range = str_of(key, "AttributeName").to_string(),
            other => panic!("unknown key type {other}"),
        }
    }
    (hash, range)
}

#[test]
fn the_template_declares_the_table_the_code_creates() {
    let template = template();
    let table = &template["Resources"]["LearningTable"];
    assert_eq!(str_of(table, "Type"), "AWS::DynamoDB::Table");
    let props = &table["Properties"];
    let want: TableDefinition = definition();

    assert_eq!(str_of(props, "BillingMode"), want.billing_mode);
    assert_eq!(
        keys(&props["KeySchema"]),
        (want.hash_key.to_string(), want.range_key.to_string())
    );

    let mut attributes: Vec<(String, String)> = props["AttributeDefinitions"]
        .as_sequence()
        .expect("attribute definitions")
        .iter()
        .map(|a| {
            (
                str_of(a, "AttributeName").to_string(),
                str_of(a, "AttributeType").to_string(),
            )
        })
        .collect();
    let mut expected: Vec<(String, String)> = want
        .attributes
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    attributes.sort();
    expected.sort();
    assert_eq!(attributes, expected);

    let indexes = props["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("indexes");
    assert_eq!(indexes.len(), want.indexes.len());
    for want in &want.indexes {
        let got = indexes
            .iter()
            .find(|i| str_of(i, "IndexName") == want.name)
            .unwrap_or_else(|| panic!("index {} in the template", want.name));
        assert_eq!(
            keys(&got["KeySchema"]),
            (want.hash_key.to_string(), want.range_key.to_string())
        );
        assert_eq!(
            str_of(&got["Projection"], "ProjectionType"),
            want.projection
        );
    }
}

#[test]
fn the_table_is_protected_as_production_data() {
    let template = template();
    let table = &template["Resources"]["LearningTable"];
    assert_eq!(str_of(table, "DeletionPolicy"), "Retain");
    let props = &table["Properties"];
    assert_eq!(props["DeletionProtectionEnabled"].as_bool(), Some(true));
    assert_eq!(
        props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
    assert_eq!(
        props["SSESpecification"]["SSEEnabled"].as_bool(),
        Some(true)
    );
}
