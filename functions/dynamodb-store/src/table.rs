//! The table design, in code, so the local stack creates exactly the table
//! that `template.yaml` declares (a test keeps the two equal).
//!
//! | item | pk | sk | gsi1pk | gsi1sk |
//! |---|---|---|---|---|
//! | training record | `PERSON#<id_no>` | `REC#<course_code>#<term:04>#<start_date>` | `AGENCY#<org_code>` | `<passed_date>#<id_no>#<course_code>#<term:04>#<start_date>` |
//! | import-log entry | `LOG#<log_id>` | `LOG` | `LOGS#<yyyy-mm of started_at, UTC>` | `<started_at>#<log_id>` |
//! | sync watermark | `SYNC#daily` | `STATE` | | |
//! | sync lease | `SYNC#daily` | `LEASE` | | |

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

use crate::StoreError;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";

/// One secondary index: name, hash key, range key, projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDefinition {
    pub name: &'static str,
    pub hash_key: &'static str,
    pub range_key: &'static str,
    pub projection: &'static str,
}

/// The table, engine-neutral, for comparison with the SAM template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    pub hash_key: &'static str,
    pub range_key: &'static str,
    /// Key attributes and their scalar types (`S`).
    pub attributes: Vec<(&'static str, &'static str)>,
    pub indexes: Vec<IndexDefinition>,
    pub billing_mode: &'static str,
}

pub fn definition() -> TableDefinition {
    TableDefinition {
        hash_key: PK,
        range_key: SK,
        attributes: vec![(PK, "S"), (SK, "S"), (GSI1_PK, "S"), (GSI1_SK, "S")],
        indexes: vec![IndexDefinition {
            name: GSI1,
            hash_key: GSI1_PK,
            range_key: GSI1_SK,
            projection: "ALL",
        }],
        billing_mode: "PAY_PER_REQUEST",
    }
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| StoreError::build("CreateTable", e))
}

/// Creates the table from [`definition`]; an existing table is left alone.
pub async fn create(client: &Client, table: &str) -> Result<(), StoreError> {
    let design = definition();
    let build_error = |e| StoreError::build("CreateTable", e);
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::from(design.billing_mode))
        .key_schema(key(design.hash_key, KeyType::Hash)?)
        .key_schema(key(design.range_key, KeyType::Range)?);
    for (name, kind) in &design.attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(*name)
                .attribute_type(ScalarAttributeType::from(*kind))
                .build()
                .map_err(build_error)?,
        );
    }
    for index in &design.indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.hash_key, KeyType::Hash)?)
                .key_schema(key(index.range_key, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(index.projection))
                        .build(),
                )
                .build()
                .map_err(build_error)?,
        );
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(StoreError::sdk("CreateTable", e)),
    }
}
