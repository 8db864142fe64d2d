//! The import log page by page: entries of a time range, newest first,
//! for one agency's staff or for administrators, read inside DynamoDB
//! with a cursor between pages.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use learning_core::import_log::{LogEntry, SyncLogEntry, Trigger};

use crate::import_log::{EVERYONE, entry_from_item, month_partition, summary_of, timestamp};
use crate::items::{Item, s, text};
use crate::{Store, StoreError};

/// Items a page may have DynamoDB read at most: with a filter (a trigger,
/// an agency), a page can end short of its limit, with a cursor, rather
/// than read a month of other entries to fill it.
const MAX_EVALUATED: i32 = 1000;

/// Which entries a page of the log holds.
#[derive(Debug, Clone)]
pub struct LogQuery {
    /// Entries started in `[from, to)`.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub trigger: Option<Trigger>,
    /// `Some`: the nightly runs (with this agency's counts) and this
    /// agency's uploads and downloads only; `None`: everything.
    pub agency: Option<String>,
    pub limit: usize,
    /// Where the page before ended ([`LogPage::next`]).
    pub after: Option<String>,
}

/// One page, newest first, and where the next one starts.
#[derive(Debug, Clone)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    /// Opaque; `None` on the last page.
    pub next: Option<String>,
}

/// Where the next page starts: a month partition, and after which entry
/// of it (its index key and id), or at its newest when `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    month: NaiveDate,
    after: Option<(String, String)>,
}

impl Cursor {
    fn encode(&self) -> String {
        let (gsi1sk, pk) = self.after.clone().unwrap_or_default();
        URL_SAFE_NO_PAD.encode(format!("{}|{gsi1sk}|{pk}", self.month))
    }

    fn decode(text: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(3, '|');
        let month: NaiveDate = parts.next()?.parse().ok()?;
        let (gsi1sk, pk) = (parts.next()?.to_string(), parts.next()?.to_string());
        let after = match (gsi1sk.is_empty(), pk.starts_with("LOG#")) {
            (true, _) if pk.is_empty() => None,
            (false, true) => Some((gsi1sk, pk)),
            _ => return None,
        };
        (month.day() == 1).then_some(Cursor { month, after })
    }
}

impl Store {
    /// Sync entries started in `[from, to)`, newest first.
    pub async fn sync_logs_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SyncLogEntry>, StoreError> {
        Ok(self
            .logs_between(from, to)
            .await?
            .into_iter()
            .filter_map(|entry| match entry {
                LogEntry::Sync(e) => Some(*e),
                _ => None,
            })
            .collect())
    }

    /// One page of the log, read page by page inside DynamoDB: `Limit` and
    /// `ExclusiveStartKey` across the month partitions, newest first, the
    /// trigger and the agency filtered by the query, only the listed form
    /// of each entry (and one agency's counts) projected. A page reads at
    /// most [`MAX_EVALUATED`] items, so it costs the same whether the range
    /// holds thirty entries or thousands; a filtered page may hold fewer
    /// than `limit` entries and still have a next one.
    pub async fn logs_page(&self, query: &LogQuery) -> Result<LogPage, StoreError> {
        let invalid = || StoreError::InvalidCursor;
        let after = query
            .after
            .as_deref()
            .map(|c| Cursor::decode(c).ok_or_else(invalid))
            .transpose()?;
        let first =
            NaiveDate::from_ymd_opt(query.from.year(), query.from.month(), 1).unwrap_or_default();
        let last =
            NaiveDate::from_ymd_opt(query.to.year(), query.to.month(), 1).unwrap_or_default();
        let (mut month, mut start) = match after {
            Some(c) if c.month < first || c.month > last => return Err(invalid()),
            Some(c) => {
                let key = c.after.map(|(gsi1sk, pk)| {
                    HashMap::from([
                        ("pk".to_string(), s(pk)),
                        ("sk".to_string(), s("LOG")),
                        (
                            "gsi1pk".to_string(),
                            s(month_partition(c.month.year(), c.month.month())),
                        ),
                        ("gsi1sk".to_string(), s(gsi1sk)),
                    ])
                });
                (c.month, key)
            }
            None => (last, None),
        };
        let mut projection = vec!["pk", "gsi1sk", "#kind", "summary"];
        let mut filters = Vec::new();
        let mut names = HashMap::from([("#kind".to_string(), "kind".to_string())]);
        let mut values = HashMap::from([
            (":from".to_string(), s(timestamp(query.from))),
            (":to".to_string(), s(timestamp(query.to))),
        ]);
        match &query.agency {
            Some(agency) => {
                projection.extend(["ag.#own", "ac.#own"]);
                names.insert("#own".into(), agency.clone());
                names.insert("#audience".into(), "audience".into());
                values.insert(":everyone".into(), s(EVERYONE));
                values.insert(":agency".into(), s(format!("|{agency}|")));
                filters.push("(#audience = :everyone OR contains(#audience, :agency))");
            }
            None => projection.push("ag"),
        }
        if let Some(trigger) = query.trigger {
            names.insert("#trigger".into(), "trigger".into());
            values.insert(":trigger".into(), s(trigger.as_str()));
            filters.push("#trigger = :trigger");
        }
        let projection = projection.join(", ");
        let filter = filters.join(" AND ");
        let filtered = !filter.is_empty();
        let mut entries = Vec::with_capacity(query.limit);
        let mut evaluated = 0;
        let mut filtered_batch = (query.limit as i32).saturating_mul(2).max(20);
        // Where the next page would start, were this one to end now.
        let mut resume = None;
        loop {
            if month < first {
                resume = None;
                break;
            }
            if entries.len() == query.limit || evaluated >= MAX_EVALUATED {
                break;
            }
            let wanted = (query.limit - entries.len()) as i32;
            // A filter is applied after DynamoDB reads: read twice the page
            // first (most entries pass a staff filter: the nightly runs),
            // then four times more per call, within the page's budget, so
            // a page of common entries costs little and one of rare ones
            // takes few calls.
            let batch = if filtered {
                let batch = filtered_batch.min(MAX_EVALUATED - evaluated).max(wanted);
                filtered_batch = filtered_batch.saturating_mul(4);
                batch
            } else {
                wanted
            };
            let partition = month_partition(month.year(), month.month());
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(crate::table::GSI1)
                .key_condition_expression("gsi1pk = :month AND gsi1sk BETWEEN :from AND :to")
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .expression_attribute_values(":month", s(&partition))
                .projection_expression(&projection)
                .scan_index_forward(false)
                .limit(batch)
                .set_exclusive_start_key(start.take());
            if filtered {
                request = request.filter_expression(&filter);
            }
            let output = request
                .send()
                .await
                .map_err(|e| StoreError::sdk("Query", e))?;
            evaluated += output.scanned_count();
            let items = output.items();
            let mut full_at = None;
            for (at, item) in items.iter().enumerate() {
                let entry = self.listed_entry(item).await?;
                // `to` is exclusive; BETWEEN includes it.
                if entry.started_at() >= query.to {
                    continue;
                }
                entries.push(entry);
                if entries.len() == query.limit {
                    full_at = Some(at);
                    break;
                }
            }
            let key_of =
                |item: &Item| Some((text(item, "gsi1sk").unwrap_or_default(), text(item, "pk")?));
            match (full_at, output.last_evaluated_key()) {
                // Full before the month's end: resume after the last entry.
                (Some(at), more) if at + 1 < items.len() || more.is_some() => {
                    resume = Some(Cursor {
                        month,
                        after: key_of(&items[at]),
                    });
                    break;
                }
                // More of this month: on from where DynamoDB stopped.
                (_, Some(key)) => {
                    resume = Some(Cursor {
                        month,
                        after: key_of(key),
                    });
                    start = Some(key.clone());
                }
                // The month is read: the one before, from its newest.
                (_, None) => {
                    month = month
                        .checked_sub_months(chrono::Months::new(1))
                        .unwrap_or(NaiveDate::MIN);
                    resume = Some(Cursor { month, after: None });
                }
            }
        }
        let next = resume.filter(|c| c.month >= first).map(|c| c.encode());
        Ok(LogPage { entries, next })
    }

    /// An entry as a page lists it, from its projected attributes; an
    /// entry written before the listed form existed is read whole.
    async fn listed_entry(&self, item: &Item) -> Result<LogEntry, StoreError> {
        let Some(summary) = text(item, "summary") else {
            let pk = text(item, "pk").unwrap_or_default();
            let log_id = pk.strip_prefix("LOG#").unwrap_or(&pk);
            let entry = self.get_log(log_id).await?.ok_or(StoreError::NotFound)?;
            return Ok(summary_of(entry, item));
        };
        let mut whole = item.clone();
        whole.insert("body".into(), s(summary));
        let entry = entry_from_item(&whole)?;
        Ok(summary_of(entry, item))
    }

    /// Entries of every kind started in `[from, to)`, newest first.
    pub async fn logs_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let mut entries = Vec::new();
        let mut month = NaiveDate::from_ymd_opt(to.year(), to.month(), 1).unwrap_or_default();
        let first = NaiveDate::from_ymd_opt(from.year(), from.month(), 1).unwrap_or_default();
        while month >= first {
            let items: Vec<Item> = crate::query_all(
                self.client
                    .query()
                    .table_name(&self.table)
                    .index_name(crate::table::GSI1)
                    .key_condition_expression("gsi1pk = :month AND gsi1sk BETWEEN :from AND :to")
                    .expression_attribute_values(
                        ":month",
                        s(month_partition(month.year(), month.month())),
                    )
                    .expression_attribute_values(":from", s(timestamp(from)))
                    .expression_attribute_values(":to", s(timestamp(to)))
                    .scan_index_forward(false),
            )
            .await?;
            for item in &items {
                let entry = entry_from_item(item)?;
                if entry.started_at() < to {
                    entries.push(entry);
                }
            }
            month = month
                .checked_sub_months(chrono::Months::new(1))
                .unwrap_or(NaiveDate::MIN);
        }
        Ok(entries)
    }
}
