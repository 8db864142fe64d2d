//! What staff are told when something is refused: a stable English code for
//! programs and a Traditional Chinese message for people.

use serde::Serialize;

/// A problem found in input, fit to show to personnel staff.
///
/// `field` names the record field (its English id, see
/// [`crate::record::Field`]) when the problem belongs to one. Messages never
/// carry a full national ID or name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    pub message: String,
    /// Figures a program may use (a limit, what was asked), beside the
    /// message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl Problem {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            field: None,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn in_field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.field {
            Some(field) => write!(f, "[{}] {}: {}", self.code, field, self.message),
            None => write!(f, "[{}] {}", self.code, self.message),
        }
    }
}
