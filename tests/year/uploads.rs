//! Staff uploads and their delivery by S3 events, as Lambda delivers them.

use super::*;

impl World {
    // ---- uploads --------------------------------------------------------

    pub(crate) fn agency(&mut self) -> (String, String) {
        portal_sim::data::agency(self.rng.u64(..u64::from(self.scale.agencies)))
    }

    /// Rows for a file of `agency`, changed by the cutoff, keys unused.
    pub(crate) fn fresh_rows(&mut self, agency: &(String, String), rows: usize) -> Vec<WireRecord> {
        let seed = self.rng.u64(..);
        let generator = portal_sim::data::Generator::new(DataConfig {
            seed,
            per_day: 400,
            ..DataConfig::default()
        });
        let mut out = Vec::with_capacity(rows);
        let mut day = self.settings.csv_cutoff;
        while out.len() < rows {
            for index in 0..generator.count_on(day) {
                let mut record = generator.original(day, index);
                record.org_code = agency.0.clone();
                record.org_name = agency.1.clone();
                let key = key_of(&fields_of(&record));
                if out.len() < rows && self.used.insert(key) {
                    out.push(record);
                }
            }
            day = day - chrono::Days::new(1);
        }
        out
    }

    /// A staff upload: a file made of fresh rows, a few dirty ones, some
    /// naming another agency, some over keys another agency holds; or a
    /// file uploaded before, again or corrected. Imported through the S3
    /// event; the entry's counts are checked against the ledger's.
    pub(crate) async fn upload(&mut self) {
        let (agency, mut rows, name) = if !self.files.is_empty() && self.rng.f64() < 0.25 {
            let (agency, mut rows) = self.files[self.rng.usize(..self.files.len())].clone();
            if self.rng.bool() {
                // Corrected: some rows' hours changed.
                for row in rows.iter_mut().filter(|_| self.rng.f64() < 0.3) {
                    let more = row.physical_hours.parse::<f64>().unwrap_or(0.0) + 1.0;
                    row.physical_hours = format!("{more:.1}");
                    row.total_hours = format!(
                        "{:.1}",
                        row.digital_hours.parse::<f64>().unwrap_or(0.0) + more
                    );
                }
            }
            (agency, rows, "again")
        } else {
            let agency = self.agency();
            // Every eighth a file that needs continuations.
            let size = if self.figures.uploads % 8 == 7 {
                self.rng.usize(1500..3000)
            } else {
                self.rng.usize(20..300)
            };
            (agency.0.clone(), self.fresh_rows(&agency, size), "new")
        };
        let clean = rows.clone();
        // What the oracle expects of each row, decided from how it was made.
        let mut expected_rejected: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut dirty = Vec::new();
        if name == "new" {
            for _ in 0..self.rng.usize(0..4) {
                let mut bad = rows[self.rng.usize(..rows.len())].clone();
                let code = match self.rng.u8(0..4) {
                    0 => {
                        let last = bad.id_no.pop().unwrap_or('0') as u8;
                        bad.id_no.push(char::from(b'0' + (last - b'0' + 1) % 10));
                        "national_id_checksum"
                    }
                    1 => {
                        bad.total_hours = number(&format!(
                            "{}",
                            bad.total_hours.parse::<f64>().unwrap_or(0.0) + 3.0
                        ));
                        "hours_total_mismatch"
                    }
                    2 => {
                        bad.changed_date =
                            (self.settings.csv_cutoff + chrono::Days::new(20)).to_string();
                        "after_cutoff"
                    }
                    _ => {
                        let other = self.agency();
                        if other.0 == agency {
                            continue;
                        }
                        bad.org_code = other.0;
                        "other_agency"
                    }
                };
                *expected_rejected.entry(code).or_default() += 1;
                dirty.push(bad);
            }
            // A row over a key another agency holds (from its own file).
            let theirs: Vec<Held> = self
                .ledger
                .kept
                .values()
                .filter(|h| h.writer == Writer::Csv && h.fields["org_code"] != agency)
                .cloned()
                .collect();
            if !theirs.is_empty() && self.rng.f64() < 0.5 {
                let held = &theirs[self.rng.usize(..theirs.len())];
                let mut row = clean[0].clone();
                row.id_no = held.fields["id_no"].clone();
                row.course_code = held.fields["course_code"].clone();
                row.term = held.fields["term"].parse().expect("term");
                row.start_date = held.fields["start_date"].clone();
                row.end_date = held.fields["end_date"].clone();
                row.passed_date = Some(held.fields["passed_date"].clone());
                row.changed_date = held.fields["changed_date"].clone();
                *expected_rejected.entry("record_held").or_default() += 1;
                dirty.push(row);
            }
        }
        // Counted from the ledger as it stands before the import.
        let (mut inserted, mut updated, mut unchanged) = (0, 0, 0);
        for row in &clean {
            let fields = fields_of(row);
            match self.ledger.kept.get(&key_of(&fields)) {
                None => inserted += 1,
                Some(held) if held.fields == fields => unchanged += 1,
                Some(_) => updated += 1,
            }
        }
        rows.extend(dirty);
        self.rng.shuffle(&mut rows);
        let encoding = if self.rng.bool() {
            CsvEncoding::Big5
        } else {
            CsvEncoding::Utf8Bom
        };
        let mut bytes = Vec::new();
        portal_sim::csv_file::write_records(&mut bytes, &rows, encoding).expect("a file");
        self.figures.uploads += 1;
        self.figures.rows += rows.len() as u64;
        let key = format!("uploads/{agency}/{}-{}.csv", name, self.figures.uploads);
        let entry = self.import(&key, bytes).await;
        let counts = &entry["counts"];
        let rejected: u64 = expected_rejected.values().sum();
        assert_eq!(
            entry["status"],
            if rejected > 0 { "partial" } else { "succeeded" },
            "{key}: {entry}"
        );
        assert_eq!(
            [
                &counts["rows"],
                &counts["inserted"],
                &counts["updated"],
                &counts["unchanged"],
                &counts["rejected"]
            ],
            [
                &json!(rows.len()),
                &json!(inserted),
                &json!(updated),
                &json!(unchanged),
                &json!(rejected)
            ],
            "{key}: the import's counts are the ledger's: {entry}"
        );
        for (code, n) in &expected_rejected {
            assert_eq!(entry["reasons"][code], json!(n), "{key}: {code}: {entry}");
        }
        for row in &clean {
            let fields = fields_of(row);
            self.ledger.kept.insert(
                key_of(&fields),
                Held {
                    fields,
                    locked: false,
                    writer: Writer::Csv,
                },
            );
        }
        if name == "new" {
            self.files.push((agency, clean));
        }
    }

    /// Puts `bytes` at `key` and delivers the S3 events that follow (the
    /// upload's, then its continuations') as Lambda would, with the
    /// faults of the cloud: an invocation killed at a random point and
    /// delivered again, the same event delivered twice at once, errors
    /// retried. Returns the finished entry, read raw.
    pub(crate) async fn import(&mut self, key: &str, bytes: Vec<u8>) -> Value {
        let put = self
            .s3
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .expect("the upload");
        let file = learning_core::import_log::UploadedFile {
            bucket: BUCKET.to_string(),
            key: key.to_string(),
            version_id: None,
            etag: put.e_tag().map(|e| e.trim_matches('"').to_string()),
            size: 0,
        };
        let log_id = file.log_id();
        // Until the import is over and no continuation is on its way.
        let waited = Instant::now();
        loop {
            let event =
                match tokio::time::timeout(Duration::from_millis(50), self.events.recv()).await {
                    Ok(Some(event)) => event,
                    _ => {
                        let over = log_body(&self.direct, &log_id)
                            .await
                            .is_some_and(|e| e["status"] != "running");
                        assert!(
                            waited.elapsed() < Duration::from_secs(300),
                            "{key}: never over"
                        );
                        if over {
                            break;
                        }
                        continue;
                    }
                };
            let event: S3Event = serde_json::from_value(event).expect("an S3 event");
            if event.records.iter().any(|r| {
                r.s3.object
                    .key
                    .as_deref()
                    .is_some_and(|k| k.contains("continuations"))
            }) {
                self.figures.continuations += 1;
            }
            self.deliver(event).await;
        }
        let entry = log_body(&self.direct, &log_id)
            .await
            .expect("the import's entry");
        assert_ne!(entry["status"], "running", "{key}: {entry}");
        entry
    }

    pub(crate) async fn deliver(&mut self, event: S3Event) {
        self.next_invocation += 1;
        let request_id = format!("import-{}", self.next_invocation);
        // Each invocation has the time a Lambda gives, some little.
        let budget = if self.rng.f64() < 0.5 {
            Duration::from_millis(self.rng.u64(1000..2500))
        } else {
            Duration::from_secs(60)
        };
        let importer = self.importer.clone();
        let invoke = |request_id: String| {
            let importer = importer.clone();
            let event = event.clone();
            async move {
                importer
                    .handle(&event, &request_id, tokio::time::Instant::now() + budget)
                    .await
            }
        };
        if self.rng.f64() < 0.1 {
            // The same event twice at once: one import.
            self.figures.duplicate_events += 1;
            let (a, b) = tokio::join!(
                invoke(request_id.clone()),
                invoke(format!("{request_id}-twin"))
            );
            if a.is_ok() && b.is_ok() {
                return;
            }
        } else if self.rng.f64() < 0.15 {
            // Killed at a random point (the future dropped mid-call).
            let at = Duration::from_millis(self.rng.u64(5..400));
            if tokio::time::timeout(at, invoke(request_id.clone()))
                .await
                .is_err()
            {
                self.figures.kills += 1;
            }
        }
        // Delivered (again: Lambda retries with the same request id).
        let mut errors = Vec::new();
        for _ in 0..3 {
            match invoke(request_id.clone()).await {
                Ok(_) => return,
                Err(e) => errors.push(format!("{}: {e}", e.code())),
            }
        }
        panic!("an import failed three invocations in a row: {errors:?}");
    }
}
