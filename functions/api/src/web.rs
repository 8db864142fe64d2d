//! The pages for personnel staff (人事人員): one HTML page, a script and a
//! style sheet, compiled into the binary and served by the same router as
//! the API (same origin: no CORS, the same tokens). No build step: plain
//! HTML and an ES module, read by any current browser.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

const INDEX: &str = include_str!("../web/index.html");
const ASSETS: [(&str, &str, &str); 2] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../web/app.css"),
    ),
];

/// What the page may load and call: itself, and S3 for the presigned
/// upload (the bucket's origin differs by region and, locally, by port).
const CSP: &str = "default-src 'self'; connect-src 'self' https://*.amazonaws.com http://127.0.0.1:*; \
    img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn page(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /`: the page.
pub async fn index() -> Response {
    page("text/html; charset=utf-8", INDEX)
}

/// `GET /web/{file}`: its script and style sheet.
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => page(content_type, body),
        None => ApiError::not_found().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::{ASSETS, INDEX};

    fn script() -> &'static str {
        ASSETS[0].2
    }

    /// The keys one dictionary of the script defines.
    fn dictionary(language: &str) -> Vec<&'static str> {
        let opening = format!("\n  {language}: {{");
        let start = script().find(&opening).expect("dictionary") + opening.len();
        let body = &script()[start..];
        let body = &body[..body.find("\n  },").expect("its end")];
        // Each entry is `key: "text"`; the key is the word before `: "`.
        let pieces: Vec<&str> = body.split(": \"").collect();
        pieces[..pieces.len() - 1]
            .iter()
            .map(|before| {
                let at = before
                    .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(0, |at| at + 1);
                &before[at..]
            })
            .collect()
    }

    #[test]
    fn both_languages_have_every_text_the_page_and_script_use() {
        let zh = dictionary("zh");
        let en = dictionary("en");
        assert!(zh.len() > 50, "{}", zh.len());
        let mut missing: Vec<&str> = zh.iter().filter(|k| !en.contains(k)).copied().collect();
        missing.extend(en.iter().filter(|k| !zh.contains(k)));
        assert!(missing.is_empty(), "only in one language: {missing:?}");
        for quoted in [
            INDEX.split("data-i18n=\""),
            INDEX.split("data-i18n-label=\""),
        ] {
            for key in quoted.skip(1).map(|rest| rest.split('"').next().unwrap()) {
                assert!(
                    zh.contains(&key),
                    "the page uses {key}, no dictionary has it"
                );
            }
        }
        let script = script();
        for (at, call) in script.match_indices("t(\"") {
            let before = script[..at].chars().next_back().unwrap_or(' ');
            if before.is_ascii_alphanumeric() || before == '_' || before == '.' {
                continue; // split(".") and the like
            }
            let key = script[at + call.len()..].split('"').next().unwrap();
            assert!(
                zh.contains(&key),
                "the script uses {key}, no dictionary has it"
            );
        }
    }

    #[test]
    fn the_page_loads_only_what_is_served() {
        for reference in INDEX.split("\"/web/").skip(1) {
            let file = reference.split('"').next().unwrap();
            assert!(ASSETS.iter().any(|(name, _, _)| *name == file), "{file}");
        }
        assert!(!INDEX.contains("style=\""), "inline styles break the CSP");
        assert!(!INDEX.contains("<script>"), "inline scripts break the CSP");
    }
}
