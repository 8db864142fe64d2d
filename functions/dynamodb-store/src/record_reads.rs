//! Reading records: by key, by person, and an agency's by date (its
//! records page by page, or only their hours for a yearly summary).

use std::collections::HashMap;

use learning_core::{AgencyCode, NationalId, NaturalKey};

use crate::items::{Item, describe_key, key_item, person_pk, record_sk, s, text};
use crate::records::{BATCH_GET_MAX, stored_from_item};
use crate::{HoursRow, Store, StoreError, StoredRecord};

impl Store {
    /// The records of `keys` the table holds, by key (read in batches).
    pub async fn records_by_key(
        &self,
        keys: &[NaturalKey],
    ) -> Result<HashMap<NaturalKey, StoredRecord>, StoreError> {
        Ok(self
            .get_records(keys)
            .await?
            .into_iter()
            .map(|stored| (stored.record.key(), stored))
            .collect())
    }

    /// The records of `keys` the table holds, in the keys' order (a key
    /// no longer held is left out).
    pub async fn get_records(&self, keys: &[NaturalKey]) -> Result<Vec<StoredRecord>, StoreError> {
        let mut found: HashMap<(String, String), StoredRecord> = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let items = self
                .batch_get(chunk.iter().map(key_item).collect(), None, true)
                .await?;
            for item in &items {
                let at = (
                    text(item, "pk").unwrap_or_default(),
                    text(item, "sk").unwrap_or_default(),
                );
                found.insert(at, stored_from_item(item)?);
            }
        }
        Ok(keys
            .iter()
            .filter_map(|key| found.remove(&(person_pk(&key.id_no), record_sk(key))))
            .collect())
    }

    pub async fn get_record(&self, key: &NaturalKey) -> Result<Option<StoredRecord>, StoreError> {
        let item = self.get(person_pk(&key.id_no), record_sk(key)).await?;
        item.as_ref().map(stored_from_item).transpose()
    }

    /// Every record of one person, in key order.
    pub async fn records_of_person(
        &self,
        id: &NationalId,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let items: Vec<Item> = crate::query_all(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :rec)")
                .expression_attribute_values(":pk", s(person_pk(id)))
                .expression_attribute_values(":rec", s("REC#")),
        )
        .await?;
        items.iter().map(stored_from_item).collect()
    }

    /// One page of `agency`'s records passed in `[from, to]` (by passed
    /// date, or change date where none), oldest first: a Query on `gsi1`
    /// with `Limit`, continued after `after` (the `gsi1sk` a page ended
    /// at, from [`Store::agency_records`]'s second value).
    pub async fn agency_records(
        &self,
        agency: &AgencyCode,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<StoredRecord>, Option<String>), StoreError> {
        let pk = format!("AGENCY#{agency}");
        // The index key starts with the date: every key of a day sorts
        // between `<day>#` and `<day>#~`.
        let (low, high) = (format!("{from}#"), format!("{to}#~"));
        if after.is_some_and(|a| a < low.as_str() || a > high.as_str()) {
            return Err(StoreError::InvalidCursor);
        }
        let start = match after {
            Some(sk) => {
                // The index key and the table key of the item the page
                // ended at (the table key follows from the index key).
                let mut parts = sk.splitn(5, '#');
                let (_, id, course, term, start_date) = (
                    parts.next(),
                    parts.next().ok_or(StoreError::InvalidCursor)?,
                    parts.next().ok_or(StoreError::InvalidCursor)?,
                    parts.next().ok_or(StoreError::InvalidCursor)?,
                    parts.next().ok_or(StoreError::InvalidCursor)?,
                );
                Some(HashMap::from([
                    ("gsi1pk".to_string(), s(&pk)),
                    ("gsi1sk".to_string(), s(sk)),
                    ("pk".to_string(), s(format!("PERSON#{id}"))),
                    (
                        "sk".to_string(),
                        s(format!("REC#{course}#{term}#{start_date}")),
                    ),
                ]))
            }
            None => None,
        };
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(crate::table::GSI1)
            .key_condition_expression("gsi1pk = :pk AND gsi1sk BETWEEN :low AND :high")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":low", s(low))
            .expression_attribute_values(":high", s(high))
            .limit(limit as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::sdk("Query", e))?;
        let records = output
            .items()
            .iter()
            .map(stored_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next = output
            .last_evaluated_key()
            .and_then(|key| text(key, "gsi1sk"));
        Ok((records, next))
    }

    /// The hours of every record of `agency` passed in `[from, to]`, each
    /// with its person: only the attributes a yearly summary needs are
    /// read (a Query on `gsi1`, every page).
    pub async fn agency_hours(
        &self,
        agency: &AgencyCode,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<HoursRow>, StoreError> {
        let items: Vec<Item> = crate::query_all(
            self.client
                .query()
                .table_name(&self.table)
                .index_name(crate::table::GSI1)
                .key_condition_expression("gsi1pk = :pk AND gsi1sk BETWEEN :low AND :high")
                .expression_attribute_values(":pk", s(format!("AGENCY#{agency}")))
                .expression_attribute_values(":low", s(format!("{from}#")))
                .expression_attribute_values(":high", s(format!("{to}#~")))
                .projection_expression(
                    "pk, sk, id_no, #name, digital_hours, physical_hours, total_hours, #status",
                )
                .expression_attribute_names("#name", "name")
                .expression_attribute_names("#status", "status"),
        )
        .await?;
        items
            .iter()
            .filter(|item| text(item, "status").as_deref() == Some("passed"))
            .map(|item| {
                let corrupt = |detail: &str| StoreError::Corrupt {
                    key: describe_key(item),
                    detail: detail.to_string(),
                };
                let hours = |name: &str| {
                    text(item, name)
                        .and_then(|h| learning_core::Hours::parse(&h).ok())
                        .ok_or_else(|| corrupt(name))
                };
                Ok(HoursRow {
                    id_no: text(item, "id_no")
                        .and_then(|id| NationalId::parse(&id).ok())
                        .ok_or_else(|| corrupt("id_no"))?,
                    name: text(item, "name").unwrap_or_default(),
                    digital: hours("digital_hours")?,
                    physical: hours("physical_hours")?,
                    total: hours("total_hours")?,
                })
            })
            .collect()
    }
}
