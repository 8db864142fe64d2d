//! Staff at the API (typed records, locked ones, downloads) and
//! administrators (re-runs, removals).

use super::*;

impl World {
    // ---- staff ----------------------------------------------------------

    /// A record typed in by hand, edited, deleted; an edit of a locked one
    /// and of another agency's, refused.
    pub(crate) async fn staff(&mut self, today: NaiveDate) {
        // Half the time a record the portal will deliver, typed in while
        // staff wait for it (the portal's then replaces it); otherwise
        // one of the agency's own, edited or deleted after.
        let awaited = if self.rng.bool() {
            self.future_portal_record(today)
        } else {
            None
        };
        let typed = match awaited.clone() {
            Some(mut record) => {
                let half_more =
                    |hours: &str| format!("{:.1}", hours.parse::<f64>().unwrap_or(0.0) + 0.5);
                record.total_hours = half_more(&record.total_hours);
                record.physical_hours = half_more(&record.physical_hours);
                record.changed_date = (today - chrono::Days::new(1)).to_string();
                record.passed_date = Some(record.changed_date.clone());
                record
            }
            None => {
                let agency = self.agency();
                let mut record = self.fresh_rows(&agency, 1).remove(0);
                record.course_code = format!("ST{:06}", self.rng.u32(..1_000_000));
                record.start_date = (today - chrono::Days::new(5)).to_string();
                record.end_date = (today - chrono::Days::new(4)).to_string();
                record.passed_date = Some((today - chrono::Days::new(3)).to_string());
                record.changed_date = (today - chrono::Days::new(3)).to_string();
                if !self.used.insert(key_of(&fields_of(&record))) {
                    return;
                }
                record
            }
        };
        let agency = typed.org_code.clone();
        let staff = self.token(&agency, "staff");
        let person = self.person(&typed.id_no, &staff).await;
        let body = wire_body(&typed);
        let (status, created, _) = self
            .call(
                reqwest::Method::POST,
                &format!("/v1/people/{person}/records"),
                &staff,
                Some(&body),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        self.figures.staff_edits += 1;
        let fields = fields_of(&typed);
        let key = key_of(&fields);
        self.ledger.kept.insert(
            key.clone(),
            Held {
                fields,
                locked: false,
                writer: Writer::Staff,
            },
        );
        if awaited.is_some() {
            return;
        }
        let path = self.record_path(&person, &key);
        let (_, _, etag) = self
            .call(reqwest::Method::GET, &path, &staff, None, None)
            .await;
        match self.rng.u8(0..3) {
            0 => {
                let mut edited = typed.clone();
                edited.course_name.push_str("（修正）");
                let (status, answer, _) = self
                    .call(
                        reqwest::Method::PUT,
                        &path,
                        &staff,
                        Some(&wire_body(&edited)),
                        etag.as_deref(),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{answer}");
                self.figures.staff_edits += 1;
                self.ledger.kept.get_mut(&key).expect("typed").fields = fields_of(&edited);
            }
            1 => {
                let (status, answer, _) = self.delete(&path, &staff, etag.as_deref()).await;
                assert!(status.is_success(), "{status} {answer}");
                self.figures.staff_edits += 1;
                self.ledger.kept.remove(&key);
            }
            _ => {
                // Another agency's staff: as if the record were not there.
                let other = self.agency().0;
                if other != agency {
                    let theirs = self.token(&other, "staff");
                    let path = self.path_for(&theirs, &key).await;
                    let (status, _, _) = self.delete(&path, &theirs, etag.as_deref()).await;
                    assert_eq!(status, StatusCode::NOT_FOUND, "another agency's record");
                    self.figures.refused_edits += 1;
                }
            }
        }
    }

    /// A record the portal will first report in 5 to 10 days and never
    /// change: what staff type in while they wait for it.
    pub(crate) fn future_portal_record(&mut self, today: NaiveDate) -> Option<WireRecord> {
        let generator = self.portal.portal.generator();
        let day = today + chrono::Days::new(self.rng.u64(5..11));
        let count = generator.count_on(day);
        if count == 0 {
            return None;
        }
        let index = self.rng.u32(..count);
        let record = generator.original(day, index);
        let fits = generator.fate(day, index) == portal_sim::data::Fate::Stays
            && record.defect.is_none()
            && self.used.insert(key_of(&fields_of(&record)));
        fits.then_some(record)
    }

    /// Staff try to change a record the portal wrote: refused, locked.
    pub(crate) async fn try_locked(&mut self, as_of: NaiveDate) {
        let held = self.ledger.portal(
            &self.portal.portal,
            (as_of - chrono::Days::new(20)).max(self.settings.start_date),
            as_of - chrono::Days::new(10),
        );
        let Some((key, record)) = held.into_iter().nth(self.rng.usize(..50)) else {
            return;
        };
        let staff = self.token(&record.fields["org_code"], "staff");
        let path = self.path_for(&staff, &key).await;
        let (status, _, etag) = self
            .call(reqwest::Method::GET, &path, &staff, None, None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, answer, _) = self.delete(&path, &staff, etag.as_deref()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        assert_eq!(answer["code"], "record_locked", "{answer}");
        self.figures.refused_edits += 1;
    }

    pub(crate) async fn download(&mut self, today: NaiveDate) {
        let agency = self.agency().0;
        let staff = self.token(&agency, "staff");
        let window = json!({
            "from": (today - chrono::Days::new(6)).max(Settings::default().start_date).to_string(),
            "to": today.to_string(),
        });
        let (status, answer, _) = self
            .call(
                reqwest::Method::POST,
                "/v1/downloads",
                &staff,
                Some(&window),
                None,
            )
            .await;
        // The portal may be having a bad night: told to try again later.
        assert!(
            status == StatusCode::OK || answer["details"]["retry"] == true,
            "{status} {answer}"
        );
        self.figures.downloads += 1;
    }

    // ---- administrators -------------------------------------------------

    /// The portal records a correction more than the lookback ago: the
    /// nightly run cannot see it; an administrator re-runs that day.
    pub(crate) async fn backdate_and_rerun(&mut self, today: NaiveDate) {
        let day = today - chrono::Days::new(self.rng.u64(10..25));
        if day < self.settings.start_date {
            return;
        }
        let listed = self.portal.portal.day(day);
        let Some(record) = listed
            .iter()
            .filter(|r| r.is_passed() && r.defect.is_none())
            .nth(self.rng.usize(..8))
            .cloned()
        else {
            return;
        };
        let mut late = record.clone();
        let more = late.digital_hours.parse::<f64>().unwrap_or(0.0) + 1.0;
        late.digital_hours = format!("{more:.1}");
        late.total_hours = format!(
            "{:.1}",
            more + late.physical_hours.parse::<f64>().unwrap_or(0.0)
        );
        // Until the re-run, WebHR holds what it read.
        self.ledger
            .awaiting_rerun
            .entry(record.record_id.clone())
            .or_insert_with(|| fields_of(&record));
        self.portal.portal.backdate(late, today);
        self.figures.backdated += 1;
        let admin = self.token("A58000000A", "admin");
        // Until a re-run succeeds: a failed one may have written part of
        // the day, so the administrator does not leave it there.
        for _ in 0..20 {
            let before = self.rerun_entries().await;
            let (status, answer, _) = self
                .call(
                    reqwest::Method::POST,
                    "/v1/syncs",
                    &admin,
                    Some(&json!({"from": day.to_string()})),
                    None,
                )
                .await;
            if status == StatusCode::CONFLICT {
                // Another run holds the lease: try again shortly.
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
            self.figures.reruns += 1;
            if self.rerun_succeeded(day, &before).await {
                self.ledger.awaiting_rerun.remove(&record.record_id);
                return;
            }
        }
        panic!("twenty re-runs of {day} and none succeeded");
    }

    /// The re-runs' entries of this moment (the clock stands still while
    /// the administrator works), as the administrator reads the log.
    async fn rerun_entries(&self) -> Vec<learning_core::import_log::SyncLogEntry> {
        let now = self.clock.now();
        let window = chrono::Duration::minutes(1);
        self.direct
            .sync_logs_between(now - window, now + window)
            .await
            .expect("the log")
            .into_iter()
            .filter(|e| e.requested_by.is_some())
            .collect()
    }

    /// Whether the re-run of `day` just asked for (an entry not among
    /// `before`) ended succeeded, once it finished.
    pub(crate) async fn rerun_succeeded(
        &self,
        day: NaiveDate,
        before: &[learning_core::import_log::SyncLogEntry],
    ) -> bool {
        // However long it takes: an administrator who stopped waiting
        // would not know what the table holds.
        for _ in 0..4800 {
            let done = self.rerun_entries().await.into_iter().find(|e| {
                e.data_date == day
                    && e.status.is_final()
                    && !before.iter().any(|b| b.log_id == e.log_id)
            });
            if let Some(entry) = done {
                return matches!(
                    entry.status,
                    learning_core::import_log::RunStatus::Succeeded
                        | learning_core::import_log::RunStatus::Partial
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the re-run of {day} did not finish in two minutes");
    }

    /// The portal loses a record; an administrator removes it from WebHR.
    pub(crate) async fn erase_and_remove(&mut self, as_of: NaiveDate) {
        let held = self.ledger.portal(
            &self.portal.portal,
            (as_of - chrono::Days::new(40)).max(self.settings.start_date),
            as_of - chrono::Days::new(20),
        );
        let Some((key, _)) = held.into_iter().nth(self.rng.usize(..30)) else {
            return;
        };
        // Found by its key among the days listed.
        let Some(record) = (0..45)
            .filter_map(|back| as_of.checked_sub_days(chrono::Days::new(back)))
            .flat_map(|d| {
                self.portal
                    .portal
                    .day(d)
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .find(|r| key_of(&fields_of(r)) == key)
        else {
            return;
        };
        self.portal.portal.erase(&record.record_id, as_of);
        let admin = self.token("A58000000A", "admin");
        let path = self.path_for(&admin, &key).await;
        for _ in 0..5 {
            let (_, _, etag) = self
                .call(reqwest::Method::GET, &path, &admin, None, None)
                .await;
            let (status, answer, _) = self
                .call(
                    reqwest::Method::POST,
                    &format!("{path}/removal"),
                    &admin,
                    Some(&json!({"reason": "入口網已無此筆紀錄"})),
                    etag.as_deref(),
                )
                .await;
            if status.is_success() {
                self.figures.removals += 1;
                return;
            }
            assert!(status.is_server_error(), "{status} {answer}");
        }
        panic!("the removal never went through");
    }
}

/// A record as the API takes it: its fields as text.
pub(crate) fn wire_body(record: &WireRecord) -> Value {
    let mut body = serde_json::to_value(record).expect("a record");
    let object = body.as_object_mut().expect("an object");
    object.remove("record_id");
    object.insert("status".into(), json!("passed"));
    for value in object.values_mut() {
        if value.is_number() {
            *value = json!(value.to_string());
        }
    }
    body
}
