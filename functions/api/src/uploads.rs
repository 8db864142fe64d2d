//! Uploads without AWS credentials: the API hands out a presigned S3
//! POST form (a SigV4 POST policy) for one key under the caller's agency
//! prefix (`uploads/<agency>/<file>.csv`); the upload's ObjectCreated
//! event starts the CSV import. S3 itself holds the form to its key, its
//! size range (`CSV_MAX_BYTES`) and its expiry: a larger file is refused
//! before it is stored.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::input::JsonBody;
use crate::{ApiError, AppState, Caller};

/// How long a presigned URL works.
pub const URL_LIFETIME: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    /// The file's name as staff see it, e.g. `名單 104.csv`.
    file_name: String,
    /// Administrators only: upload for this agency.
    agency: Option<String>,
}

/// How to upload: POST a `multipart/form-data` form to `url` with every
/// one of `fields`, then the file last, as `file`.
#[derive(Debug, Serialize)]
pub struct UploadTicket {
    pub method: &'static str,
    pub url: String,
    pub fields: BTreeMap<String, String>,
    pub bucket: String,
    pub key: String,
    /// The largest file S3 takes with this form.
    pub max_bytes: u64,
    pub expires_in_secs: u64,
}

/// A file name that stays one key under the agency prefix: a `.csv`
/// name, no folders, no dot-dot, no control characters and no invisible
/// direction or zero-width marks (which make a name in the import log
/// read as another), at most 200 characters. The extension becomes `.csv`: S3's notification filters
/// are case-sensitive.
fn file_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let bad = |message: &str| ApiError::bad_request("invalid_file_name", message.to_string());
    if name.is_empty() || name.chars().count() > 200 {
        return Err(bad("檔名須為 1 到 200 個字"));
    }
    let invisible = |c: char| matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}');
    if name.contains(['/', '\\'])
        || name.contains("..")
        || name.chars().any(|c| c.is_control() || invisible(c))
    {
        return Err(bad("檔名不可含有 /、\\、..、控制字元或隱形字元"));
    }
    let Some(stem) = name
        .len()
        .checked_sub(4)
        .filter(|&at| {
            at > 0 && name.is_char_boundary(at) && name[at..].eq_ignore_ascii_case(".csv")
        })
        .map(|at| &name[..at])
    else {
        return Err(bad("只接受 .csv 檔；Excel 活頁簿請另存為 CSV"));
    };
    // The key lives on in the bucket, its access logs and the import log:
    // no national ID in it (a person's name cannot be told from other
    // words, so the import never logs the key).
    if learning_core::national_id::redact(stem) != stem {
        return Err(ApiError::bad_request(
            "file_name_personal",
            "檔名不可含有身分證字號；請改用如「名單 104.csv」的檔名",
        ));
    }
    Ok(format!("{stem}.csv"))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<UploadRequest>,
) -> Result<Json<UploadTicket>, ApiError> {
    let agency = caller.acting_for(request.agency.as_deref())?;
    let key = format!("uploads/{agency}/{}", file_name(&request.file_name)?);
    let uploads = &state.uploads;
    let credentials = uploads
        .credentials
        .provide_credentials()
        .await
        .map_err(|e| s3_unavailable("上傳", e))?;
    let max_bytes = state.settings.csv_max_bytes;
    let fields = PostPolicy {
        bucket: &state.bucket,
        key: &key,
        max_bytes,
        region: &uploads.region,
        access_key: credentials.access_key_id(),
        secret_key: credentials.secret_access_key(),
        session_token: credentials.session_token(),
        // The machine's clock, not the request's: S3 checks the form's
        // date and expiry against its own, as for presigned links.
        now: std::time::SystemTime::now().into(),
    }
    .form();
    Ok(Json(UploadTicket {
        method: "POST",
        url: uploads.url.clone(),
        fields,
        bucket: state.bucket.clone(),
        key,
        max_bytes,
        expires_in_secs: URL_LIFETIME.as_secs(),
    }))
}

/// What signing upload forms takes: the bucket's endpoint browsers post
/// to, and the function's own credentials and region (a form carries its
/// permission, as a presigned link does).
#[derive(Clone)]
pub struct Uploads {
    /// The bucket's endpoint; its origin is the one the page may post to.
    pub url: String,
    pub region: String,
    pub credentials: SharedCredentialsProvider,
}

impl std::fmt::Debug for Uploads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploads")
            .field("url", &self.url)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Uploads {
    /// From the SDK configuration the functions' clients are built from.
    pub fn new(aws: &aws_types::SdkConfig, url: String) -> Result<Self, ApiError> {
        let missing = |what: &str| s3_unavailable("上傳", format!("SDK 設定缺少{what}"));
        Ok(Uploads {
            url,
            region: aws.region().ok_or_else(|| missing("區域"))?.to_string(),
            credentials: aws.credentials_provider().ok_or_else(|| missing("憑證"))?,
        })
    }
}

impl Uploads {
    /// A link to GET `key` from the bucket, valid for [`URL_LIFETIME`]
    /// (`what` names it in a failure: 上傳 or 下載).
    pub async fn presigned_get(&self, key: &str, what: &str) -> Result<String, ApiError> {
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| s3_unavailable(what, e))?;
        PresignedGet {
            endpoint: &self.url,
            key,
            region: &self.region,
            access_key: credentials.access_key_id(),
            secret_key: credentials.secret_access_key(),
            session_token: credentials.session_token(),
            // S3 checks the link's date against its own clock.
            now: std::time::SystemTime::now().into(),
            lifetime: URL_LIFETIME,
        }
        .url()
        .map_err(|e| s3_unavailable(what, e))
    }
}

/// A presigned GET: Signature Version 4 in the query string, the host the
/// only signed header, the payload unsigned (S3's "presigned URL").
struct PresignedGet<'a> {
    /// The bucket's endpoint: `https://<bucket>.s3.<region>.amazonaws.com`
    /// or, path-style, `http://127.0.0.1:<port>/<bucket>`.
    endpoint: &'a str,
    key: &'a str,
    region: &'a str,
    access_key: &'a str,
    secret_key: &'a str,
    session_token: Option<&'a str>,
    now: DateTime<Utc>,
    lifetime: Duration,
}

/// RFC 3986 percent-encoding as SigV4 wants it: all but `A-Z a-z 0-9 - . _ ~`,
/// and `/` too unless `keep_slash`.
fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl PresignedGet<'_> {
    /// Signed by the SDK's own signer (`aws-sigv4`) with the settings S3's
    /// presigning uses: the path encoded once and not normalised, the
    /// payload unsigned, the session token signed.
    fn url(&self) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        let (scheme, rest) = self
            .endpoint
            .split_once("://")
            .unwrap_or(("https", self.endpoint));
        let (host, prefix) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
        let path = [prefix.trim_matches('/'), self.key]
            .iter()
            .filter(|part| !part.is_empty())
            .map(|part| uri_encode(part, true))
            .fold(String::new(), |path, part| format!("{path}/{part}"));
        let url = format!("{scheme}://{host}{path}");

        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(self.lifetime);
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        settings.session_token_mode = SessionTokenMode::Include;
        let identity = aws_credential_types::Credentials::new(
            self.access_key,
            self.secret_key,
            self.session_token.map(str::to_string),
            None,
            "presigned-get",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(self.region)
            .name("s3")
            .time(self.now.into())
            .settings(settings)
            .build()?
            .into();
        let request = SignableRequest::new(
            "GET",
            url.as_str(),
            std::iter::empty(),
            SignableBody::UnsignedPayload,
        )?;
        let (instructions, _) = aws_sigv4::http_request::sign(request, &params)?.into_parts();
        let (_, query) = instructions.into_parts();
        let query = query
            .iter()
            .map(|(name, value)| format!("{name}={}", uri_encode(value, false)))
            .collect::<Vec<_>>()
            .join("&");
        Ok(format!("{url}?{query}"))
    }
}

/// A browser-based upload's signed policy (S3's "POST policy" with
/// Signature Version 4): one exact key, a size from 1 byte to
/// `max_bytes`, valid for [`URL_LIFETIME`].
struct PostPolicy<'a> {
    bucket: &'a str,
    key: &'a str,
    max_bytes: u64,
    region: &'a str,
    access_key: &'a str,
    secret_key: &'a str,
    session_token: Option<&'a str>,
    now: DateTime<Utc>,
}

impl PostPolicy<'_> {
    /// The form's fields, the policy and its signature among them.
    fn form(&self) -> BTreeMap<String, String> {
        let date = self.now.format("%Y%m%d").to_string();
        let mut fields = BTreeMap::from([
            ("key".to_string(), self.key.to_string()),
            (
                "x-amz-algorithm".to_string(),
                "AWS4-HMAC-SHA256".to_string(),
            ),
            (
                "x-amz-credential".to_string(),
                format!("{}/{date}/{}/s3/aws4_request", self.access_key, self.region),
            ),
            (
                "x-amz-date".to_string(),
                self.now.format("%Y%m%dT%H%M%SZ").to_string(),
            ),
        ]);
        if let Some(token) = self.session_token {
            fields.insert("x-amz-security-token".to_string(), token.to_string());
        }
        let mut conditions = vec![
            serde_json::json!({ "bucket": self.bucket }),
            serde_json::json!(["content-length-range", 1, self.max_bytes]),
        ];
        conditions.extend(
            fields
                .iter()
                .map(|(name, value)| serde_json::json!(["eq", format!("${name}"), value])),
        );
        let expiration = self.now + URL_LIFETIME;
        let policy = serde_json::json!({
            "expiration": expiration.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "conditions": conditions,
        });
        let policy = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
        let signature = sign(self.secret_key, self.now, self.region, "s3", &policy);
        fields.insert("policy".to_string(), policy);
        fields.insert("x-amz-signature".to_string(), signature);
        fields
    }
}

/// A SigV4 signature (hex) of `text`, with the key derived from the
/// secret for the day of `now`, the region and the service.
fn sign(secret: &str, now: DateTime<Utc>, region: &str, service: &str, text: &str) -> String {
    let key = v4::generate_signing_key(secret, now.into(), region, service);
    v4::calculate_signature(key, text.as_bytes())
}

/// S3 could not presign a link (`what`: 上傳 or 下載).
pub(crate) fn s3_unavailable(what: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable("s3_unavailable", format!("{what}網址：{error}"))
}

#[cfg(test)]
mod tests {
    use super::{PostPolicy, PresignedGet, file_name, sign};

    #[test]
    fn presigned_links_match_aws_documented_example() {
        // AWS's example of a presigned GET (S3, "Authenticating Requests:
        // Using Query Parameters"): examplebucket/test.txt, 2013-05-24,
        // valid 86,400 seconds.
        let get = PresignedGet {
            endpoint: "https://examplebucket.s3.amazonaws.com",
            key: "test.txt",
            region: "us-east-1",
            access_key: "AKIAIOSFODNN7EXAMPLE",
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            session_token: None,
            now: "2013-05-24T00:00:00Z".parse().unwrap(),
            lifetime: std::time::Duration::from_secs(86_400),
        };
        assert_eq!(
            get.url().unwrap(),
            "https://examplebucket.s3.amazonaws.com/test.txt\
             ?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn path_style_links_sign_the_bucket_and_an_encoded_key() {
        let get = PresignedGet {
            endpoint: "http://127.0.0.1:9000/bucket",
            key: "reports/376550000A/名單 1.csv",
            region: "us-east-1",
            access_key: "AKID",
            secret_key: "secret",
            session_token: Some("to/ken"),
            now: "2013-05-24T00:00:00Z".parse().unwrap(),
            lifetime: std::time::Duration::from_secs(900),
        };
        let url = get.url().unwrap();
        assert!(
            url.starts_with(
                "http://127.0.0.1:9000/bucket/reports/376550000A/%E5%90%8D%E5%96%AE%201.csv?"
            ),
            "{url}"
        );
        assert!(url.contains("&X-Amz-Security-Token=to%2Fken"), "{url}");
        // The token is signed: another token, another signature.
        let signature = |url: &str| {
            url.split("X-Amz-Signature=")
                .nth(1)
                .map(|s| s[..64].to_string())
        };
        let other = PresignedGet {
            session_token: Some("other"),
            ..get
        };
        assert_ne!(signature(&url), signature(&other.url().unwrap()));
    }

    #[test]
    fn signatures_match_aws_documented_example() {
        // AWS's SigV4 example (IAM ListUsers, 2015-08-30): its string to
        // sign and the signature its Authorization header carries.
        let text = "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n\
                    f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59";
        assert_eq!(
            sign(
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                "2015-08-30T12:36:00Z".parse().unwrap(),
                "us-east-1",
                "iam",
                text
            ),
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn the_form_holds_the_key_the_size_and_the_expiry() {
        let policy = PostPolicy {
            bucket: "b",
            key: "uploads/376550000A/x.csv",
            max_bytes: 100,
            region: "us-east-1",
            access_key: "AKIDEXAMPLE",
            secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            session_token: Some("token"),
            now: "2015-08-30T12:36:00Z".parse().unwrap(),
        };
        let form = policy.form();
        assert_eq!(
            form["x-amz-credential"],
            "AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request"
        );
        assert_eq!(form["x-amz-date"], "20150830T123600Z");
        let document: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &form["policy"])
                .unwrap(),
        )
        .unwrap();
        assert_eq!(document["expiration"], "2015-08-30T12:51:00.000Z");
        let conditions = document["conditions"].to_string();
        assert_eq!(
            form["x-amz-signature"],
            sign(
                policy.secret_key,
                policy.now,
                "us-east-1",
                "s3",
                &form["policy"]
            )
        );
        for needed in [
            r#"["content-length-range",1,100]"#,
            r#"["eq","$key","uploads/376550000A/x.csv"]"#,
            r#"["eq","$x-amz-security-token","token"]"#,
            r#"{"bucket":"b"}"#,
        ] {
            assert!(conditions.contains(needed), "{needed} in {conditions}");
        }
    }

    #[test]
    fn only_plain_csv_names_pass() {
        assert_eq!(file_name(" 名單 104.csv ").unwrap(), "名單 104.csv");
        assert_eq!(file_name("A.CSV").unwrap(), "A.csv");
        for bad in [
            "",
            "../x.csv",
            "a/b.csv",
            "a\\b.csv",
            "x.xlsx",
            "x\u{0}.csv",
            "..csv",
            ".csv",
            "x\u{202E}vsc.csv",
            "\u{200B}.csv",
        ] {
            assert_eq!(
                file_name(bad).unwrap_err().code(),
                "invalid_file_name",
                "{bad:?}"
            );
        }
        assert!(file_name(&format!("{}.csv", "名".repeat(200))).is_err());
        for personal in ["A123456789 王小明 補登.csv", "補登a223456789.csv"] {
            assert_eq!(
                file_name(personal).unwrap_err().code(),
                "file_name_personal",
                "{personal:?}"
            );
        }
        assert_eq!(file_name("名單 1040101.csv").unwrap(), "名單 1040101.csv");
    }
}
