//! Deterministic synthetic learning records: the same seed and day always
//! give the same records, with realistic names, agencies, courses and
//! checksum-valid IDs, and a share of later corrections and withdrawals.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use learning_core::NationalId;
use serde::Serialize;

/// One record in the portal's wire format (docs/portal-api.yaml).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WireRecord {
    /// The portal's identity of the record: the same through every change.
    pub record_id: String,
    pub id_no: String,
    pub name: String,
    pub birth_date: Option<String>,
    pub org_code: String,
    pub org_name: String,
    pub course_code: String,
    pub course_name: String,
    pub category_code: String,
    pub provider: String,
    pub term: u32,
    pub start_date: String,
    pub end_date: String,
    pub mode: u8,
    pub digital_hours: String,
    pub physical_hours: String,
    pub total_hours: String,
    pub status: String,
    pub passed_date: Option<String>,
    pub changed_date: String,
    /// What the generator made wrong in it on purpose, if anything: what
    /// a test expects refused, known from the making, not from the
    /// product's checks.
    #[serde(skip)]
    pub defect: Option<Defect>,
}

/// A record's deliberate fault, as real portal data has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    /// A national ID whose check digit is wrong.
    IdCheckDigit,
    /// A total that is not digital + physical hours.
    HoursTotal,
    /// Served with its term as text (`"term": "1"`), against the API's
    /// types.
    OddType,
}

impl WireRecord {
    pub fn is_passed(&self) -> bool {
        self.status == "passed"
    }

    /// The natural key, as in `learning_core::NaturalKey`.
    pub fn key(&self) -> (String, String, u32, String) {
        (
            self.id_no.clone(),
            self.course_code.clone(),
            self.term,
            self.start_date.clone(),
        )
    }
}

/// The knobs of the synthetic data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DataConfig {
    pub seed: u64,
    /// Records that first pass on an ordinary weekday; weekends get fewer,
    /// and every day varies by ±20 %.
    pub per_day: u32,
    /// Share of records corrected at the portal 1–14 days after passing.
    pub corrected_share: f64,
    /// Share of the corrections that correct the class's start date (a
    /// key field: the record moves to another key, its `record_id` kept)
    /// instead of the hours.
    pub key_corrected_share: f64,
    /// Share of records withdrawn at the portal 1–14 days after passing.
    pub withdrawn_share: f64,
    /// Share of records served with a national ID that fails its checksum.
    pub invalid_id_share: f64,
    /// Share of records served with hours that do not add up (total ≠
    /// digital + physical), as real portal data sometimes has.
    pub invalid_hours_share: f64,
    /// Share of records served with a field of the wrong JSON type (the
    /// term as text).
    pub odd_type_share: f64,
    /// How many agencies the learners serve in: the 12 named ones, then
    /// numbered ones (`A9100001`…) up to this many.
    pub agencies: u32,
    /// How many times the ordinary rate pass in December (the year-end
    /// rush to reach the yearly hours).
    pub year_end_rush: f64,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            seed: 2016,
            per_day: 200,
            corrected_share: 0.03,
            key_corrected_share: 0.25,
            withdrawn_share: 0.02,
            invalid_id_share: 0.0,
            invalid_hours_share: 0.0,
            odd_type_share: 0.0,
            agencies: AGENCIES.len() as u32,
            year_end_rush: 1.0,
        }
    }
}

/// How far after passing a correction or withdrawal can come.
pub const MAX_FATE_DAYS: i64 = 14;

/// splitmix64: a fast, well-mixed hash of the inputs, the only source of
/// randomness here.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn hash(parts: &[u64]) -> u64 {
    parts.iter().fold(0x5EED, |acc, &p| mix(acc ^ mix(p)))
}

fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn pick<T: Copy>(items: &[T], h: u64) -> T {
    items[(h % items.len() as u64) as usize]
}

const SURNAMES: &[&str] = &[
    "陳", "林", "黃", "張", "李", "王", "吳", "劉", "蔡", "楊", "許", "鄭", "謝", "郭", "洪", "曾",
    "邱", "廖", "賴", "周", "徐", "蘇", "葉", "莊", "呂", "江", "何", "蕭", "羅", "高", "歐陽",
];
const GIVEN: &[&str] = &[
    "怡", "君", "家", "豪", "志", "明", "淑", "芬", "雅", "婷", "建", "宏", "俊", "傑", "美", "玲",
    "冠", "宇", "佳", "穎", "承", "恩", "詩", "涵", "柏", "翰", "欣", "妤", "文", "彥", "靜", "宜",
];
const AGENCIES: &[(&str, &str)] = &[
    ("376550000A", "範例市政府人事處"),
    ("379000000A", "臺北市政府人事處"),
    ("382000000A", "新北市政府人事處"),
    ("387000000A", "臺中市政府人事處"),
    ("397000000A", "高雄市政府人事處"),
    ("A58000000A", "行政院人事行政總處"),
    ("A09000000E", "教育部"),
    ("A21000000I", "衛生福利部"),
    ("A15000000E", "交通部"),
    ("A01000000A", "內政部"),
    ("A03000000I", "財政部"),
    ("A17000000J", "經濟部"),
];
const COURSES: &[(&str, &str)] = &[
    ("性別主流化基礎課程", "3A"),
    ("環境教育：氣候變遷調適", "2B"),
    ("民主治理與公共參與", "1C"),
    ("個人資料保護法實務", "4A"),
    ("公務倫理與廉政", "1A"),
    ("資訊安全通識", "5D"),
    ("人權兩公約導論", "1B"),
    ("行政程序法概論", "4B"),
    ("政府採購法入門", "4C"),
    ("災害防救概論", "2C"),
    ("多元文化與族群關係", "3B"),
    ("永續發展目標（SDGs）", "2A"),
    ("數位治理與開放資料", "5A"),
    ("身心障礙者權利公約", "1D"),
    ("工作壓力與健康管理", "6A"),
    ("公文寫作技巧", "4D"),
];
const PROVIDERS: &[&str] = &[
    "e等公務園+",
    "地方行政研習中心",
    "公務人力發展學院",
    "國家文官學院",
];

/// What becomes of a record after it first passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Stays,
    Corrected(NaiveDate),
    Withdrawn(NaiveDate),
}

pub struct Generator {
    config: DataConfig,
}

impl Generator {
    pub fn new(config: DataConfig) -> Self {
        Generator { config }
    }

    pub fn config(&self) -> &DataConfig {
        &self.config
    }

    /// How many records first pass on `day`.
    pub fn count_on(&self, day: NaiveDate) -> u32 {
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        let rush = if day.month() == 12 {
            self.config.year_end_rush
        } else {
            1.0
        };
        let base = f64::from(self.config.per_day) * rush * if weekend { 0.3 } else { 1.0 };
        let jitter = 0.8 + 0.4 * unit(hash(&[self.config.seed, day_num(day), 1]));
        (base * jitter).round() as u32
    }

    pub fn fate(&self, origin: NaiveDate, index: u32) -> Fate {
        let h = hash(&[self.config.seed, day_num(origin), u64::from(index), 2]);
        let roll = unit(h);
        let later = origin + Duration::days(1 + (h % MAX_FATE_DAYS as u64) as i64);
        if roll < self.config.withdrawn_share {
            Fate::Withdrawn(later)
        } else if roll < self.config.withdrawn_share + self.config.corrected_share {
            Fate::Corrected(later)
        } else {
            Fate::Stays
        }
    }

    /// The record as it first passed on `origin`.
    pub fn original(&self, origin: NaiveDate, index: u32) -> WireRecord {
        let seed = self.config.seed;
        let h = |salt: u64| hash(&[seed, day_num(origin), u64::from(index), salt]);
        // People recur across days: a pool of learners, each with a fixed
        // identity, agency and birth date.
        let person = h(10) % 50_000;
        let p = |salt: u64| hash(&[seed, person, salt]);
        let letter = (b'A' + (p(1) % 26) as u8) as char;
        let sex = if p(2) % 2 == 0 { '1' } else { '2' };
        let prefix = format!("{letter}{sex}{:07}", p(3) % 10_000_000);
        let mut id_no = NationalId::with_check_digit(&prefix)
            .map(|id| id.as_str().to_string())
            .unwrap_or_default();
        let mut defect = None;
        if unit(h(11)) < self.config.invalid_id_share {
            let last = id_no.pop().map_or(b'0', |c| c as u8);
            id_no.push(char::from(b'0' + (last - b'0' + 1) % 10));
            defect = Some(Defect::IdCheckDigit);
        }
        let name = format!(
            "{}{}{}",
            pick(SURNAMES, p(4)),
            pick(GIVEN, p(5)),
            pick(GIVEN, p(6))
        );
        let birth = NaiveDate::from_ymd_opt(1960, 1, 1).expect("a real date")
            + Duration::days((p(7) % (40 * 365)) as i64);
        let (org_code, org_name) = agency(p(8) % u64::from(self.config.agencies.max(1)));
        let course = h(12) % COURSES.len() as u64;
        let (course_name, category) = COURSES[course as usize];
        let end = origin - Duration::days((h(13) % 10) as i64);
        let start = end - Duration::days((h(14) % 5) as i64);
        let mode = (h(15) % 3) as u8 + 1;
        let tenths = 10 + (h(16) % 8) as u32 * 5; // 1.0 to 4.5 hours
        let (digital, physical) = match mode {
            1 => (tenths, 0),
            2 => (0, tenths),
            _ => (tenths / 2, tenths - tenths / 2),
        };
        let hours = |t: u32| format!("{}.{}", t / 10, t % 10);
        let total = if unit(h(20)) < self.config.invalid_hours_share {
            defect = defect.or(Some(Defect::HoursTotal));
            digital + physical + 5
        } else {
            digital + physical
        };
        if unit(h(21)) < self.config.odd_type_share {
            defect = defect.or(Some(Defect::OddType));
        }
        WireRecord {
            record_id: format!("LR{:016X}", h(22)),
            id_no,
            name,
            birth_date: Some(birth.to_string()),
            org_code,
            org_name,
            course_code: format!(
                "EC{}{:05}",
                start.year() - 1911,
                course * 1000 + h(17) % 1000
            ),
            course_name: course_name.to_string(),
            category_code: category.to_string(),
            provider: pick(PROVIDERS, h(18)).to_string(),
            term: 1 + (h(19) % 4) as u32,
            start_date: start.to_string(),
            end_date: end.to_string(),
            mode,
            digital_hours: hours(digital),
            physical_hours: hours(physical),
            total_hours: hours(total),
            status: "passed".to_string(),
            passed_date: Some(origin.to_string()),
            changed_date: origin.to_string(),
            defect,
        }
    }

    /// Whether a correction of the record corrects its class start date
    /// (its key) rather than its hours.
    pub fn corrects_key(&self, origin: NaiveDate, index: u32) -> bool {
        let h = hash(&[self.config.seed, day_num(origin), u64::from(index), 23]);
        unit(h) < self.config.key_corrected_share
    }

    /// The record after a correction or withdrawal on `when`.
    pub fn changed(&self, origin: NaiveDate, index: u32, fate: Fate) -> Option<WireRecord> {
        let mut record = self.original(origin, index);
        match fate {
            Fate::Stays => return None,
            Fate::Corrected(when) if self.corrects_key(origin, index) => {
                // The provider recorded the class as starting a day late:
                // the record moves to another key, its identity kept.
                let start: NaiveDate = record.start_date.parse().expect("a generated date");
                record.start_date = (start - Duration::days(1)).to_string();
                record.changed_date = when.to_string();
            }
            Fate::Corrected(when) => {
                // The provider uploaded the hours late: half an hour more.
                let digital: f64 = record.digital_hours.parse().unwrap_or(0.0);
                let total: f64 = record.total_hours.parse().unwrap_or(0.0);
                record.digital_hours = format!("{:.1}", digital + 0.5);
                record.total_hours = format!("{:.1}", total + 0.5);
                record.changed_date = when.to_string();
            }
            Fate::Withdrawn(when) => {
                record.status = "withdrawn".to_string();
                record.passed_date = None;
                record.changed_date = when.to_string();
            }
        }
        Some(record)
    }

    /// Every record whose latest change, as the portal knows it on `as_of`,
    /// falls on `day`; in a stable order. Empty for days after `as_of`.
    pub fn changes_on(&self, day: NaiveDate, as_of: NaiveDate) -> Vec<WireRecord> {
        if day > as_of {
            return Vec::new();
        }
        let visible = |fate: Fate| match fate {
            Fate::Corrected(when) | Fate::Withdrawn(when) => when <= as_of,
            Fate::Stays => false,
        };
        let mut records = Vec::new();
        for index in 0..self.count_on(day) {
            if !visible(self.fate(day, index)) {
                records.push(self.original(day, index));
            }
        }
        for back in 1..=MAX_FATE_DAYS {
            let origin = day - Duration::days(back);
            for index in 0..self.count_on(origin) {
                match self.fate(origin, index) {
                    fate @ (Fate::Corrected(when) | Fate::Withdrawn(when)) if when == day => {
                        records.extend(self.changed(origin, index, fate));
                    }
                    _ => {}
                }
            }
        }
        records
    }
}

/// The `n`th agency: a named one, then numbered ones.
pub fn agency(n: u64) -> (String, String) {
    match AGENCIES.get(n as usize) {
        Some((code, name)) => (code.to_string(), name.to_string()),
        None => (format!("A91{n:05}0A"), format!("第{n}機關人事室")),
    }
}

fn day_num(day: NaiveDate) -> u64 {
    day.num_days_from_ce() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_day() {
        let a = Generator::new(DataConfig::default());
        let b = Generator::new(DataConfig::default());
        let d = day("2016-01-04");
        assert_eq!(a.changes_on(d, d), b.changes_on(d, d));
        let other = Generator::new(DataConfig {
            seed: 7,
            ..DataConfig::default()
        });
        assert_ne!(a.changes_on(d, d), other.changes_on(d, d));
    }

    #[test]
    fn records_are_valid_and_consistent() {
        let g = Generator::new(DataConfig {
            per_day: 500,
            ..DataConfig::default()
        });
        let d = day("2016-02-01");
        let records = g.changes_on(d, day("2016-03-01"));
        assert!(records.len() > 300);
        for r in &records {
            assert!(NationalId::parse(&r.id_no).is_ok());
            assert_eq!(r.changed_date, d.to_string());
        }
        assert!(records.iter().any(|r| r.status == "withdrawn"));
        assert!(
            records
                .iter()
                .any(|r| r.is_passed() && r.passed_date.as_deref() != Some(&r.changed_date))
        );
    }

    #[test]
    fn a_later_change_moves_the_record_off_its_first_day() {
        let g = Generator::new(DataConfig {
            per_day: 400,
            ..DataConfig::default()
        });
        let d = day("2016-02-01");
        let early = g.changes_on(d, d);
        let late = g.changes_on(d, d + Duration::days(MAX_FATE_DAYS));
        assert!(late.len() < early.len());
        assert!(late.iter().all(|r| early.contains(r)));
    }

    #[test]
    fn invalid_ids_appear_only_when_asked() {
        let g = Generator::new(DataConfig {
            per_day: 300,
            invalid_id_share: 0.1,
            ..DataConfig::default()
        });
        let d = day("2016-02-02");
        let bad = g
            .changes_on(d, d)
            .iter()
            .filter(|r| NationalId::parse(&r.id_no).is_err())
            .count();
        assert!(bad > 5, "{bad}");
    }

    #[test]
    fn hours_that_do_not_add_up_appear_only_when_asked() {
        let d = day("2016-02-02");
        let mismatched = |share: f64| {
            Generator::new(DataConfig {
                per_day: 300,
                invalid_hours_share: share,
                ..DataConfig::default()
            })
            .changes_on(d, d)
            .iter()
            .filter(|r| {
                let n = |t: &str| t.parse::<f64>().unwrap();
                (n(&r.digital_hours) + n(&r.physical_hours) - n(&r.total_hours)).abs() > 0.01
            })
            .count()
        };
        assert_eq!(mismatched(0.0), 0);
        assert!(mismatched(0.1) > 5, "{}", mismatched(0.1));
    }
}
