//! Agency codes (機關代碼): 10 characters, digits and capital letters,
//! e.g. `376550000A`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgencyCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("機關代碼應為 10 碼英數字（如 376550000A）")]
pub struct AgencyCodeError;

impl AgencyCodeError {
    pub fn code(&self) -> &'static str {
        "invalid_agency_code"
    }
}

impl AgencyCode {
    pub fn parse(input: &str) -> Result<Self, AgencyCodeError> {
        let code = input.trim().to_ascii_uppercase();
        let shaped = code.len() == 10
            && code
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
        shaped.then_some(Self(code)).ok_or(AgencyCodeError)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AgencyCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for AgencyCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AgencyCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        AgencyCode::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ten_alphanumerics() {
        assert_eq!(
            AgencyCode::parse("376550000a").unwrap().as_str(),
            "376550000A"
        );
        assert!(AgencyCode::parse("A58000000A").is_ok());
        for bad in [
            "37655000A",
            "376550000AA",
            "37655-000A",
            "",
            "３７６５５００００A",
        ] {
            assert!(AgencyCode::parse(bad).is_err(), "{bad}");
        }
    }
}
