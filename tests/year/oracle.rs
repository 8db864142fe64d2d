//! The oracle: its own ledger of what the simulation made and what each
//! actor was told, and the table and the log checked against it.

use super::*;

/// The fields the oracle compares, as text; numbers with one decimal.
pub(crate) type Fields = BTreeMap<&'static str, String>;

pub(crate) const COMPARED: [&str; 14] = [
    "id_no",
    "name",
    "org_code",
    "course_code",
    "course_name",
    "term",
    "start_date",
    "end_date",
    "mode",
    "digital_hours",
    "physical_hours",
    "total_hours",
    "passed_date",
    "changed_date",
];

pub(crate) fn number(text: &str) -> String {
    text.parse::<f64>()
        .map_or_else(|_| text.to_string(), |n| format!("{n:.1}"))
}

pub(crate) fn fields_of(record: &WireRecord) -> Fields {
    let value = serde_json::to_value(record).expect("a record");
    COMPARED
        .iter()
        .map(|&name| {
            let text = match &value[name] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let text = if name.ends_with("hours") {
                number(&text)
            } else {
                text
            };
            (name, text)
        })
        .collect()
}

pub(crate) fn key_of(fields: &Fields) -> Key {
    (
        fields["id_no"].clone(),
        fields["course_code"].clone(),
        fields["term"].parse().expect("a term"),
        fields["start_date"].clone(),
    )
}

/// Who wrote a record, as the oracle knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writer {
    Portal,
    Csv,
    Staff,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    pub(crate) fields: Fields,
    pub(crate) locked: bool,
    pub(crate) writer: Writer,
}

/// The records among `items` (the table read with a plain Scan).
pub(crate) fn records(items: &[system_tests::Item]) -> BTreeMap<Key, Held> {
    let mut held = BTreeMap::new();
    let records = items.iter().filter(|item| {
        item.get("entity")
            .and_then(|v| v.as_s().ok())
            .is_some_and(|e| e == "record")
    });
    for item in records {
        let text = |name: &str| match item.get(name) {
            Some(aws_sdk_dynamodb::types::AttributeValue::S(s)) => s.clone(),
            Some(aws_sdk_dynamodb::types::AttributeValue::N(n)) => n.clone(),
            _ => String::new(),
        };
        let fields: Fields = COMPARED
            .iter()
            .map(|&name| {
                let value = text(name);
                (
                    name,
                    if name.ends_with("hours") {
                        number(&value)
                    } else {
                        value
                    },
                )
            })
            .collect();
        let writer = match text("source").as_str() {
            "auto_import" | "download" => Writer::Portal,
            "csv_import" => Writer::Csv,
            _ => Writer::Staff,
        };
        let locked = matches!(
            item.get("locked"),
            Some(aws_sdk_dynamodb::types::AttributeValue::Bool(true))
        );
        let previous = held.insert(
            key_of(&fields),
            Held {
                fields,
                locked,
                writer,
            },
        );
        assert!(previous.is_none(), "one item per key");
    }
    held
}

/// The oracle's ledger: what agencies' staff were told their uploads and
/// edits did, and what the portal was made to say.
#[derive(Default)]
pub(crate) struct Ledger {
    /// Records from CSV imports and typed in by staff, by key.
    pub(crate) kept: BTreeMap<Key, Held>,
    /// Portal records whose late change (outside the lookback) awaits an
    /// administrator's re-run: the version WebHR holds until then.
    pub(crate) awaiting_rerun: BTreeMap<String, Fields>,
}

impl Ledger {
    /// What the portal lists for days up to `as_of`, as WebHR should hold
    /// it: the latest version of each record the simulator made valid,
    /// passed ones only.
    pub(crate) fn portal(
        &self,
        portal: &portal_sim::Portal,
        start: NaiveDate,
        as_of: NaiveDate,
    ) -> BTreeMap<Key, Held> {
        let mut held = BTreeMap::new();
        for day in start.iter_days().take_while(|d| *d <= as_of) {
            for record in portal.day(day).iter() {
                if record.defect.is_some() || !record.is_passed() {
                    continue;
                }
                let fields = self
                    .awaiting_rerun
                    .get(&record.record_id)
                    .cloned()
                    .unwrap_or_else(|| fields_of(record));
                held.insert(
                    key_of(&fields),
                    Held {
                        fields,
                        locked: true,
                        writer: Writer::Portal,
                    },
                );
            }
        }
        held
    }

    /// The whole table as it must be: the portal's records, then what
    /// staff keep under keys the portal does not hold (the portal's
    /// version replaces a record typed in by hand).
    pub(crate) fn expected(
        &self,
        portal: &portal_sim::Portal,
        start: NaiveDate,
        as_of: NaiveDate,
    ) -> BTreeMap<Key, Held> {
        let mut all = self.portal(portal, start, as_of);
        for (key, held) in &self.kept {
            all.entry(key.clone()).or_insert_with(|| held.clone());
        }
        all
    }
}

impl World {
    /// The table against the ledger, item by item and field by field, and
    /// the log's rules, after the night of `night`.
    pub(crate) async fn check(&mut self, night: NaiveDate) {
        self.figures.checks += 1;
        let as_of = night - chrono::Days::new(1);
        let want = self
            .ledger
            .expected(&self.portal.portal, self.settings.start_date, as_of);
        // One Scan for the records and the log.
        let items = all_items(&self.direct).await;
        let got = records(&items);
        let mut mismatches = Vec::new();
        for (key, held) in &want {
            match got.get(key) {
                None => {
                    self.figures.lost += 1;
                    mismatches.push(format!("lost {:?} ({:?})", mask(key), held.writer));
                }
                Some(have) if have != held => {
                    let differ: Vec<_> = COMPARED
                        .iter()
                        .filter(|f| have.fields[*f] != held.fields[*f])
                        .map(|f| format!("{f}: {} ≠ {}", have.fields[f], held.fields[f]))
                        .collect();
                    mismatches.push(format!(
                        "{:?}: {differ:?}, locked {} ≠ {}, {:?} ≠ {:?}",
                        mask(key),
                        have.locked,
                        held.locked,
                        have.writer,
                        held.writer
                    ));
                }
                Some(_) => {}
            }
        }
        for key in got.keys().filter(|k| !want.contains_key(*k)) {
            self.figures.duplicated += 1;
            mismatches.push(format!("extra {:?} ({:?})", mask(key), got[key].writer));
        }
        self.figures.mismatches += mismatches.len() as u64;
        self.figures.records = got.len() as u64;
        println!(
            "checked after the night of {night}: {} records as the ledger says ({:.0} s)",
            got.len(),
            self.started.elapsed().as_secs_f64()
        );
        assert!(
            mismatches.is_empty(),
            "after the night of {night} (seed {}): {} mismatches:\n{}",
            self.scale.seed,
            mismatches.len(),
            mismatches[..mismatches.len().min(20)].join("\n")
        );

        // Caught up by itself: the watermark at yesterday, nothing running.
        let watermark = self.direct.watermark().await.expect("watermark");
        if watermark != Some(as_of) {
            self.figures.operator_actions += 1;
        }
        assert_eq!(
            watermark,
            Some(as_of),
            "caught up after the night of {night}"
        );
        let entries = log_bodies(&items);
        let mut done_days = BTreeSet::new();
        for entry in &entries {
            assert_ne!(
                entry["status"], "running",
                "left running: {}",
                entry["log_id"]
            );
            match entry["kind"].as_str() {
                Some("sync") => {
                    let rule = |c: &Value| {
                        let n = |f: &str| c[f].as_u64().unwrap_or(0);
                        n("fetched")
                            == [
                                "inserted",
                                "updated",
                                "replaced_staff",
                                "unchanged",
                                "withdrawn",
                                "skipped",
                                "failed",
                            ]
                            .iter()
                            .map(|f| n(f))
                            .sum::<u64>()
                    };
                    if entry["status"] != "failed" {
                        assert!(rule(&entry["counts"]), "{entry}");
                        for counts in entry["agency_counts"].as_object().into_iter().flatten() {
                            assert!(rule(counts.1), "{}: {entry}", counts.0);
                        }
                        done_days
                            .insert(entry["data_date"].as_str().unwrap_or_default().to_string());
                    } else {
                        assert!(
                            entry["error"]["code"].is_string(),
                            "a failed day says why: {entry}"
                        );
                    }
                    for failure in entry["failures"].as_array().into_iter().flatten() {
                        assert!(
                            failure["code"].is_string() && failure["message"].is_string(),
                            "{failure}"
                        );
                    }
                }
                Some("csv_import") => {
                    let c = &entry["counts"];
                    let n = |f: &str| c[f].as_u64().unwrap_or(0);
                    let reasons: u64 = entry["reasons"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r.1.as_u64())
                        .sum();
                    assert_eq!(
                        n("rejected"),
                        reasons,
                        "every refused row has a reason: {entry}"
                    );
                    if entry["status"] != "failed" {
                        assert_eq!(
                            n("rows"),
                            n("inserted")
                                + n("updated")
                                + n("replaced_staff")
                                + n("unchanged")
                                + n("rejected"),
                            "{entry}"
                        );
                    }
                }
                _ => {}
            }
        }
        for day in self
            .settings
            .start_date
            .iter_days()
            .take_while(|d| *d <= as_of)
        {
            assert!(
                done_days.contains(&day.to_string()),
                "{day}: no finished entry"
            );
        }
    }
}

pub(crate) fn mask(key: &Key) -> (String, String, u32, String) {
    (
        learning_core::national_id::mask_raw_id(&key.0),
        key.1.clone(),
        key.2,
        key.3.clone(),
    )
}

/// The log entries among `items`, raw (the entry's JSON as stored).
pub(crate) fn log_bodies(items: &[system_tests::Item]) -> Vec<Value> {
    items
        .iter()
        .filter(|item| {
            item.get("sk")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|sk| sk == "LOG")
        })
        .filter_map(body_of)
        .collect()
}

/// A log item's entry: its JSON body, with its kind.
fn body_of(item: &system_tests::Item) -> Option<Value> {
    let body = item.get("body")?.as_s().ok()?;
    let mut value: Value = serde_json::from_str(body).ok()?;
    value["kind"] = json!(item.get("kind")?.as_s().ok()?);
    Some(value)
}

/// One log entry, read raw by its key.
pub(crate) async fn log_body(store: &Store, log_id: &str) -> Option<Value> {
    let s = |v: String| aws_sdk_dynamodb::types::AttributeValue::S(v);
    let item = store
        .client()
        .get_item()
        .table_name(store.table())
        .key("pk", s(format!("LOG#{log_id}")))
        .key("sk", s("LOG".into()))
        .consistent_read(true)
        .send()
        .await
        .ok()?
        .item?;
    body_of(&item)
}
