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

/// A template value as the code would see it deployed: strings as they
/// are, a `!Ref` to a parameter as its default, anything else computed
/// (`!Ref` to a resource, `!Sub`) as a stand-in of the right kind.
fn deployed(template: &Value, name: &str, value: &Value) -> String {
    if let Value::String(text) = value {
        return text.clone();
    }
    if let Value::Tagged(tagged) = value
        && tagged.tag == "Ref"
        && let Some(target) = tagged.value.as_str()
        && let Some(default) = template["Parameters"][target].get("Default")
    {
        return match default {
            Value::Number(n) => n.to_string(),
            other => other.as_str().unwrap_or_default().to_string(),
        };
    }
    match name {
        "PORTAL_BASE_URL" => "https://portal.example/api".into(),
        _ => format!("computed-{}", name.to_lowercase()),
    }
}

fn environment(template: &Value, function: &str) -> Vec<(String, String)> {
    let mut variables = Vec::new();
    for scope in [
        &template["Globals"]["Function"],
        &template["Resources"][function]["Properties"],
    ] {
        if let Some(map) = scope["Environment"]["Variables"].as_mapping() {
            for (name, value) in map {
                let name = name.as_str().expect("a variable name");
                variables.push((name.to_string(), deployed(template, name, value)));
            }
        }
    }
    variables
}

#[test]
fn each_function_gets_the_environment_its_code_requires() {
    let template = template();
    let env = |function: &str| {
        let pairs = environment(&template, function);
        learning_core::Env::from_fn(move |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        })
    };
    let sync = daily_sync::SyncConfig::from_env(&env("DailySyncFunction")).expect("sync config");
    let import =
        csv_import::ImportConfig::from_env(&env("CsvImportFunction")).expect("import config");
    let api = api::ApiConfig::from_env(&env("ApiFunction")).expect("API config");
    let api_portal =
        portal_client::PortalConfig::from_env(&env("ApiFunction")).expect("API's portal config");
    assert_eq!(sync.settings, import.settings);
    assert_eq!(sync.settings, api.settings);
    assert_eq!(sync.settings.zone, chrono_tz::Asia::Taipei);
    // The portal's token comes from SSM, never from the plain environment.
    for portal in [&sync.portal, &api_portal] {
        assert_eq!(
            portal.token_parameter.as_deref(),
            Some("/webhr/portal-token")
        );
    }
    for function in ["DailySyncFunction", "CsvImportFunction", "ApiFunction"] {
        assert!(
            environment(&template, function)
                .iter()
                .all(|(name, _)| name != "PORTAL_TOKEN"),
            "{function}"
        );
    }
}

/// Every policy statement of the template: the functions' roles' inline
/// policies, and any SAM `Policies` left on a resource.
fn statements(template: &Value) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for (name, resource) in template["Resources"].as_mapping().expect("resources") {
        let name = name.as_str().unwrap_or_default().to_string();
        for policy in resource["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            let document = policy.get("PolicyDocument").unwrap_or(policy);
            for statement in document["Statement"].as_sequence().into_iter().flatten() {
                found.push((name.clone(), statement.clone()));
            }
        }
    }
    found
}

/// A statement's `key` (Action or Resource) as text, one per value; a
/// `!GetAtt X.Arn` as `X.Arn`, a `!Sub` as its pattern.
fn values(statement: &Value, key: &str) -> Vec<String> {
    let list: Vec<&Value> = match &statement[key] {
        Value::Sequence(list) => list.iter().collect(),
        one => vec![one],
    };
    list.into_iter()
        .map(|value| match value {
            Value::Tagged(t) => t.value.as_str().unwrap_or_default().to_string(),
            v => v.as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

#[test]
fn policies_name_what_they_allow() {
    let template = template();
    let statements = statements(&template);
    for (name, statement) in &statements {
        for key in ["Action", "Resource"] {
            for text in values(statement, key) {
                assert!(
                    text != "*" && !text.ends_with(":*") && !text.ends_with(":::*"),
                    "{name}: {key} {text}"
                );
            }
        }
    }
    assert!(statements.len() >= 15, "the roles' statements were read");
}

/// The statements of `role` that allow `action`, as their resources.
fn allowed(template: &Value, role: &str, action: &str) -> Vec<String> {
    statements(template)
        .into_iter()
        .filter(|(name, s)| name == role && values(s, "Action").iter().any(|a| a == action))
        .flat_map(|(_, s)| values(&s, "Resource"))
        .collect()
}

#[test]
fn each_function_has_a_role_of_its_own_matching_its_code() {
    // SAM's generated roles attach AWSLambdaBasicExecutionRole (logs on
    // "*"); each function names its own role instead, so the template
    // says everything a function may do.
    let template = template();
    let bucket =
        "arn:${AWS::Partition}:s3:::webhr-${Stage}-uploads-${AWS::AccountId}-${AWS::Region}";
    for (function, role, logs) in [
        ("DailySyncFunction", "DailySyncRole", "DailySyncLogs"),
        ("CsvImportFunction", "CsvImportRole", "CsvImportLogs"),
        ("ApiFunction", "ApiRole", "ApiLogs"),
    ] {
        let props = &template["Resources"][function]["Properties"];
        assert!(
            props.get("Policies").is_none(),
            "{function}: no SAM policies"
        );
        assert_eq!(values(props, "Role"), [format!("{role}.Arn")], "{function}");
        assert_eq!(values(&props["LoggingConfig"], "LogGroup"), [logs]);
        assert_eq!(
            allowed(&template, role, "logs:PutLogEvents"),
            [format!("{logs}.Arn")],
            "{function} writes its own log group only"
        );
    }
    // Re-runs invoke the sync function, named exactly; a backfill that
    // stops with days left invokes itself, by its own name only.
    assert_eq!(
        allowed(&template, "ApiRole", "lambda:InvokeFunction"),
        ["DailySyncFunction.Arn"]
    );
    let own_name = values(
        &template["Resources"]["DailySyncFunction"]["Properties"],
        "FunctionName",
    );
    assert_eq!(own_name, ["webhr-${Stage}-daily-sync"]);
    assert_eq!(
        allowed(&template, "DailySyncRole", "lambda:InvokeFunction"),
        [format!(
            "arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{}",
            own_name[0]
        )]
    );
    // The import inserts new records with PartiQL, into the table only.
    assert_eq!(
        allowed(&template, "CsvImportRole", "dynamodb:PartiQLInsert"),
        ["LearningTable.Arn"]
    );
    for role in ["DailySyncRole", "ApiRole"] {
        assert!(allowed(&template, role, "dynamodb:PartiQLInsert").is_empty());
    }
    // The import deletes its continuation objects, and may list the bucket
    // so a missing object is a 404 its code handles, not a 403.
    assert_eq!(
        allowed(&template, "CsvImportRole", "s3:DeleteObject"),
        [format!("{bucket}/continuations/*")]
    );
    assert_eq!(
        allowed(&template, "CsvImportRole", "s3:ListBucket"),
        [bucket]
    );
}

#[test]
fn administrators_routes_need_the_admin_scope_at_the_gateway() {
    let template = template();
    let events = &template["Resources"]["ApiFunction"]["Properties"]["Events"];
    for (method, path) in [
        ("POST", "/v1/syncs"),
        (
            "POST",
            "/v1/people/{person}/records/{course_code}/{term}/{start_date}/removal",
        ),
        ("GET", "/v1/disputes"),
        ("POST", "/v1/disputes/{dispute_id}/settlement"),
    ] {
        let route = events
            .as_mapping()
            .expect("events")
            .values()
            .find(|e| e["Properties"]["Path"].as_str() == Some(path))
            .unwrap_or_else(|| panic!("a route of its own for {path}"));
        assert_eq!(str_of(&route["Properties"], "Method"), method);
        let auth = &route["Properties"]["Auth"];
        assert_eq!(str_of(auth, "Authorizer"), "Jwt");
        assert_eq!(values(auth, "AuthorizationScopes"), [api::ADMIN_SCOPE]);
    }
}

#[test]
fn the_bucket_takes_uploads_from_the_page_only_and_keeps_them_briefly() {
    let template = template();
    let bucket = &template["Resources"]["UploadBucket"]["Properties"];
    let rules = bucket["CorsConfiguration"]["CorsRules"]
        .as_sequence()
        .expect("CORS rules");
    assert_eq!(rules.len(), 1);
    assert_eq!(values(&rules[0], "AllowedMethods"), ["POST"]);
    let origins = serde_yaml::to_string(&rules[0]["AllowedOrigins"]).unwrap();
    assert!(!origins.contains('*'), "one named origin: {origins}");
    assert!(origins.contains("PageOrigin"), "{origins}");
    let uploads = bucket["LifecycleConfiguration"]["Rules"]
        .as_sequence()
        .expect("lifecycle rules")
        .iter()
        .find(|r| r["Prefix"].as_str() == Some("uploads/"))
        .expect("a rule for uploads/");
    assert_eq!(
        deployed(&template, "ExpirationInDays", &uploads["ExpirationInDays"]),
        "30"
    );
}

#[test]
fn the_csv_import_hears_what_the_local_stack_raises_events_for() {
    let template = template();
    let events = template["Resources"]["CsvImportFunction"]["Properties"]["Events"]
        .as_mapping()
        .expect("events");
    let filters: Vec<(String, String)> = events
        .values()
        .filter(|e| e["Type"].as_str() == Some("S3"))
        .map(|e| {
            let rules = e["Properties"]["Filter"]["S3Key"]["Rules"]
                .as_sequence()
                .expect("rules");
            let rule = |kind: &str| {
                rules
                    .iter()
                    .find(|r| r["Name"].as_str() == Some(kind))
                    .and_then(|r| r["Value"].as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            (rule("prefix"), rule("suffix"))
        })
        .collect();
    assert_eq!(filters.len(), 3, "{filters:?}");
    for key in [
        "uploads/376550000A/名單.csv",
        "uploads/376550000A/名單.CSV",
        "uploads/376550000A/名單.Csv",
        "uploads/376550000A/名單.xlsx",
        "continuations/csv-1/000003.resume",
        "reports/376550000A/csv-1/rejected.csv",
        "x.csv",
    ] {
        let cloud = filters.iter().any(|(prefix, suffix)| {
            key.starts_with(prefix.as_str()) && key.ends_with(suffix.as_str())
        });
        assert_eq!(
            local_stack::s3_events::subscribed(key),
            cloud,
            "{key}: the local stack and S3 disagree"
        );
    }
}

#[test]
fn refused_rows_expire_with_their_reports() {
    let template = template();
    let ttl = &template["Resources"]["LearningTable"]["Properties"]["TimeToLiveSpecification"];
    assert_eq!(str_of(ttl, "AttributeName"), "ttl");
    assert_eq!(ttl["Enabled"].as_bool(), Some(true));
    let rules =
        template["Resources"]["UploadBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
            .as_sequence()
            .expect("lifecycle rules");
    let reports = rules
        .iter()
        .find(|r| r["Prefix"].as_str() == Some("reports/"))
        .expect("a rule for reports/");
    assert_eq!(
        reports["ExpirationInDays"].as_i64(),
        Some(dynamodb_store::REJECTED_ROWS_KEPT.num_days())
    );
}

/// The features Cargo builds `api` with when run in `dir` (relative to
/// the workspace's root) with `args` (`-p PACKAGE`, or none).
fn cargo_tree_api(args: &[&str], dir: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::process::Command::new(env!("CARGO"))
        .args(["tree", "--offline", "-e", "features", "-i", "api"])
        .args(args)
        .current_dir(root.join(dir))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_deployed_bootstraps_carry_no_development_code() {
    // The local stack has the development tokens and in-process re-runs...
    let local = r#"api feature "local""#;
    assert!(cargo_tree_api(&["-p", "local-stack"], ".").contains(local));
    // ...and what `sam build` builds does not. It runs `cargo lambda build
    // --bin <Binary>` in the function's CodeUri, without `-p`: from the
    // workspace's root that selects every member and unifies their
    // features, the local stack's included. From the bootstraps' own
    // folder it selects that package alone.
    let template = template();
    for function in ["DailySyncFunction", "CsvImportFunction", "ApiFunction"] {
        let code_uri = template["Resources"][function]["Properties"]["CodeUri"]
            .as_str()
            .unwrap_or_else(|| panic!("{function} has a CodeUri"));
        let deployed = cargo_tree_api(&[], code_uri);
        assert!(deployed.contains("api v"), "{function}: {deployed}");
        assert!(
            !deployed.contains(local),
            "{function} from {code_uri}: {deployed}"
        );
    }
    // The check sees the difference: from the root, `local` is in.
    assert!(cargo_tree_api(&[], ".").contains(local));
}

/// API Gateway's access log keeps every request for a year: it may name
/// the route template (`/v1/people/{person}/records`), never the path or
/// query a caller sent, which can hold a national ID or a name.
#[test]
fn the_access_log_names_routes_never_paths_or_queries() {
    let template = template();
    let format = str_of(
        &template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"],
        "Format",
    );
    let fields: serde_json::Value =
        serde_json::from_str(format).expect("the access log format is JSON");
    let allowed = [
        "$context.requestId",
        "$context.requestTime",
        "$context.routeKey",
        "$context.status",
        "$context.responseLatency",
        "$context.integrationErrorMessage",
        "$context.authorizer.claims.sub",
    ];
    let fields = fields.as_object().expect("an object of fields");
    assert!(fields.values().any(|v| v == "$context.routeKey"));
    for (name, value) in fields {
        let value = value.as_str().expect("each field a string");
        assert!(
            allowed.contains(&value),
            "access log field {name} = {value}: only these may be logged: {allowed:?}"
        );
    }
}
