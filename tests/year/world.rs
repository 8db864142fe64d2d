//! The year's world: the engines, the functions and the API, and the
//! night as Lambda runs it.

use super::*;

impl World {
    pub(crate) async fn new(scale: Scale) -> World {
        let settings = Settings::default();
        let clock = Clock(Arc::new(AtomicI64::new(0)));
        clock.set(settings.start_date, 9, 0);
        let direct = fresh_store().await;
        let proxy = fault_proxy().await;
        // The retries as deployed. The SDK's first backoff is 100 ms, not
        // 1 s: its retries meet the injected faults, drawn call by call, and
        // the year's time runs faster than the wall's. The store's own
        // retries of what the capacity left unprocessed keep their waits:
        // the cloud model refills at its WCU per wall-clock second.
        let sdk = aws_sdk_dynamodb::config::Builder::from(&local_stack::sdk_config(&proxy.url))
            .retry_config(
                aws_sdk_dynamodb::config::retry::RetryConfig::standard()
                    .with_initial_backoff(Duration::from_millis(100)),
            )
            .build();
        let store = Store::new(aws_sdk_dynamodb::Client::from_conf(sdk), direct.table());
        let portal = simulator(
            DataConfig {
                seed: scale.seed,
                per_day: scale.per_day,
                agencies: scale.agencies,
                year_end_rush: scale.rush,
                invalid_id_share: 0.004,
                invalid_hours_share: 0.004,
                odd_type_share: 0.002,
                ..DataConfig::default()
            },
            settings.start_date,
        )
        .await;
        let mut portal_config = portal_config(&portal);
        portal_config.page_size = 50;
        portal_config.timeout = Duration::from_millis(500);
        portal_config.base_backoff = Duration::from_millis(5);
        portal_config.max_backoff = Duration::from_millis(50);
        let client = PortalClient::new(portal_config).expect("client");
        let sync = Arc::new(
            DailySync::new(
                client.clone(),
                store.clone(),
                settings.clone(),
                Duration::from_millis(500),
            )
            .with_lookback(7)
            .with_clock(clock.as_fn()),
        );

        let s3_root = std::env::temp_dir().join(format!("webhr-year-{}", fastrand::u64(..)));
        let (sender, events) = tokio::sync::mpsc::unbounded_channel();
        let s3_server = local_stack::start_s3(&s3_root, 0, Some(sender))
            .await
            .expect("S3");
        let s3 = local_stack::s3_client(&s3_server.url());
        local_stack::create_bucket(&s3, BUCKET)
            .await
            .expect("bucket");
        let importer = Arc::new(csv_import::Importer::new(
            store.clone(),
            s3.clone(),
            &import_config(&store, IMPORT_RESERVE),
            audit_key(),
        ));
        let state = api::AppState {
            store: store.clone(),
            portal: client,
            bucket: BUCKET.to_string(),
            uploads: local_stack::uploads(&s3_server.url(), BUCKET),
            audit: api::AuditKey::new(AUDIT_KEY),
            sealer: api::AuditKey::new(AUDIT_KEY).sealer(),
            download_timeout: Duration::from_secs(25),
            launcher: local_stack::lambda::sync_launcher(sync.clone(), Default::default()),
            settings: settings.clone(),
            auth: Arc::new(Authentication::Local(LocalTokens::new(
                TOKENS.0, TOKENS.1, TOKENS.2,
            ))),
            clock: clock.as_fn(),
        };
        let api_server = local_stack::serve(api::router(state), 0)
            .await
            .expect("the API");
        World {
            rng: fastrand::Rng::with_seed(scale.seed),
            scale,
            clock,
            settings,
            direct,
            proxy,
            portal,
            sync,
            api_url: api_server.url(),
            http: http_client(),
            s3,
            events,
            importer,
            ledger: Ledger::default(),
            figures: Figures::default(),
            used: BTreeSet::new(),
            files: Vec::new(),
            next_invocation: 0,
            spent: BTreeMap::new(),
            started: Instant::now(),
            _servers: (s3_server, api_server),
            s3_root,
        }
    }

    /// Makes `actor`'s draws on `day` its own stream, seeded by the year's
    /// seed, the day and the actor, and reseeds the faults drawn at the
    /// portal and at DynamoDB from it. A run with the same seed replays the
    /// world, the weather and every actor's choices, whatever time an
    /// earlier actor took; what still follows the machine is where a run
    /// cut short stops and which of two concurrent calls meets a fault.
    pub(crate) fn act(&mut self, day: NaiveDate, actor: &str) {
        let mut seed = self.scale.seed ^ (u64::from(day.num_days_from_ce().unsigned_abs()) << 32);
        for byte in actor.bytes() {
            seed = (seed ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.rng = fastrand::Rng::with_seed(seed);
        self.portal.portal.reseed(self.rng.u64(..));
        self.proxy.reseed(self.rng.u64(..));
    }

    pub(crate) fn token(&self, agency: &str, role: &str) -> String {
        LocalTokens::new(TOKENS.0, TOKENS.1, TOKENS.2).mint(&Claims {
            sub: format!("{role}-{agency}"),
            iss: TOKENS.1.into(),
            aud: TOKENS.2.into(),
            exp: self.clock.now().timestamp() + 3600,
            agency: agency.into(),
            role: role.into(),
            scope: (role == "admin").then(|| api::ADMIN_SCOPE.to_string()),
        })
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> (StatusCode, Value, Option<String>) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.api_url))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (status, response.json().await.unwrap_or(Value::Null), etag)
    }

    /// The person's handle for `id_no`, as staff find it.
    pub(crate) async fn person(&self, id_no: &str, token: &str) -> String {
        let (status, found, _) = self
            .call(
                reqwest::Method::POST,
                "/v1/people/search",
                token,
                Some(&json!({ "id_no": id_no })),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{found}");
        found["person"].as_str().expect("a handle").to_string()
    }

    /// `DELETE path` with `If-Match: etag`, as `token`'s caller.
    pub(crate) async fn delete(
        &self,
        path: &str,
        token: &str,
        etag: Option<&str>,
    ) -> (StatusCode, Value, Option<String>) {
        self.call(reqwest::Method::DELETE, path, token, None, etag)
            .await
    }

    /// The record's URL as the caller of `token` finds it: the person by
    /// ID, then the record by its key.
    pub(crate) async fn path_for(&self, token: &str, key: &Key) -> String {
        let person = self.person(&key.0, token).await;
        self.record_path(&person, key)
    }

    pub(crate) fn record_path(&self, person: &str, key: &Key) -> String {
        format!("/v1/people/{person}/records/{}/{}/{}", key.1, key.2, key.3)
    }

    // ---- the night ------------------------------------------------------

    /// One night's scheduled run as Lambda runs it: retried twice on an
    /// error, continued by its own invocation when it runs out of time.
    /// The runs are returned to await alone or beside another actor; their
    /// figures go to [`World::count_night`].
    pub(crate) fn night(
        &mut self,
        night: NaiveDate,
        deadline: Duration,
        twice: bool,
    ) -> impl std::future::Future<Output = Vec<(u64, u64)>> + use<> {
        let event: SyncEvent =
            serde_json::from_str(include_str!("../events/scheduled-event.json")).expect("event");
        let mut pending = vec![event.clone()];
        if twice {
            // Two schedules firing at once: one works, one finds the lease.
            pending.push(event);
            self.figures.double_schedules += 1;
        }
        let runs: Vec<_> = pending
            .into_iter()
            .map(|event| {
                self.next_invocation += 1;
                let run_id = format!("night-{night}-{}", self.next_invocation);
                let sync = self.sync.clone();
                async move {
                    let mut continuations = 0;
                    let mut out_of_time = 0;
                    let mut event = event;
                    let mut attempt = 0;
                    loop {
                        let request = event.clone().into_request(
                            format!("{run_id}-{continuations}"),
                            tokio::time::Instant::now() + deadline,
                        );
                        match sync.run(&request, |_, _| {}).await {
                            Ok(summary) => {
                                out_of_time +=
                                    u64::from(summary.outcome == Outcome::DeadlineReached);
                                match event.continuation(&summary) {
                                    Some(next) => {
                                        continuations += 1;
                                        event = next;
                                    }
                                    None => return (continuations, out_of_time),
                                }
                            }
                            // Lambda retries an asynchronous invocation twice.
                            Err(_) if attempt < 2 => attempt += 1,
                            Err(_) => return (continuations, out_of_time),
                        }
                    }
                }
            })
            .collect();
        futures::future::join_all(runs)
    }

    /// Adds the wall time since `at` to `phase`.
    pub(crate) fn took(&mut self, phase: &'static str, at: Instant) {
        *self.spent.entry(phase).or_default() += at.elapsed().as_secs_f64();
    }

    /// Counts what a night's runs did: continuations, runs out of time.
    pub(crate) fn count_night(&mut self, runs: Vec<(u64, u64)>) {
        for (continued, out_of_time) in runs {
            self.figures.sync_continuations += continued;
            self.figures.sync_out_of_time += out_of_time;
        }
    }
}
