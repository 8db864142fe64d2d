//! The pages for personnel staff (人事人員): one HTML page, a script and a
//! style sheet, compiled into the binary and served by the same router as
//! the API (same origin: no CORS, the same tokens). No build step: plain
//! HTML and an ES module, read by any current browser.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::{ApiError, AppState};

const INDEX: &str = include_str!("../web/index.html");
/// The pages' files, and the staff guide they link to (its page renders
/// the markdown the guide is written in: one text, in the repository and
/// in the pages).
const ASSETS: [(&str, &str, &str); 5] = [
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
    (
        "help.html",
        "text/html; charset=utf-8",
        include_str!("../web/help.html"),
    ),
    (
        "help.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/help.js"),
    ),
    (
        "staff-guide.zh-TW.md",
        "text/markdown; charset=utf-8",
        include_str!("../../../docs/staff-guide.zh-TW.md"),
    ),
];

/// The scheme, host and port of `url`: what a CSP source names.
pub(crate) fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    url[after_scheme..]
        .find('/')
        .map_or(url, |at| &url[..after_scheme + at])
}

/// What the page may load and call: itself, and the upload bucket's one
/// origin for the upload form.
fn policy(state: &AppState) -> HeaderValue {
    let csp = format!(
        "default-src 'self'; connect-src 'self' {}; img-src 'self' data:; style-src 'self'; \
         script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        origin(&state.uploads.url)
    );
    HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("default-src 'self'"))
}

fn page(state: &AppState, content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_SECURITY_POLICY, policy(state)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// `GET /`: the page.
pub async fn index(State(state): State<AppState>) -> Response {
    page(&state, "text/html; charset=utf-8", INDEX)
}

/// `GET /web/{file}`: its script and style sheet.
pub async fn asset(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => page(&state, content_type, body),
        None => ApiError::not_found().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::{ASSETS, INDEX, origin};

    #[test]
    fn an_origin_is_scheme_host_and_port() {
        assert_eq!(
            origin("https://b.s3.ap-northeast-1.amazonaws.com"),
            "https://b.s3.ap-northeast-1.amazonaws.com"
        );
        assert_eq!(
            origin("http://127.0.0.1:8402/webhr-uploads-local"),
            "http://127.0.0.1:8402"
        );
    }

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
            let file = reference.split(['"', '#']).next().unwrap();
            assert!(ASSETS.iter().any(|(name, _, _)| *name == file), "{file}");
        }
        assert!(!INDEX.contains("style=\""), "inline styles break the CSP");
        assert!(!INDEX.contains("<script>"), "inline scripts break the CSP");
    }

    #[test]
    fn each_help_link_opens_a_section_of_the_guide() {
        let guide = ASSETS
            .iter()
            .find(|(name, _, _)| *name == "staff-guide.zh-TW.md")
            .expect("the guide is served")
            .2;
        let links: Vec<&str> = INDEX
            .split("/web/help.html#")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap())
            .collect();
        assert_eq!(links.len(), 6, "a 說明 link on each tab");
        for id in links {
            assert!(guide.contains(&format!("<a id=\"{id}\"></a>")), "{id}");
        }
    }
}
