//! What makes a record valid: every field checked, every problem of a row
//! collected (so staff fix a file in one pass), then the rules between
//! fields.

use super::*;

const MAX_TEXT_CHARS: usize = 200;

/// Collects every problem of a row instead of stopping at the first, so
/// staff can fix a file in one pass.
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn fail(&mut self, field: Field, code: &'static str, message: impl Into<String>) {
        let message = format!("{}：{}", field.header(), message.into());
        self.problems
            .push(Problem::new(code, message).in_field(field.id()));
    }

    fn text(&mut self, field: Field, value: &str, required: bool) -> String {
        let value = value.trim();
        if value.is_empty() {
            if required {
                self.fail(field, "required", "必填欄位為空白");
            }
        } else if value.chars().count() > MAX_TEXT_CHARS {
            self.fail(field, "text_too_long", format!("超過 {MAX_TEXT_CHARS} 字"));
        } else if value.chars().any(char::is_control) {
            self.fail(field, "text_control_char", "含有控制字元");
        }
        value.to_string()
    }

    /// Course codes go into keys, where `#` separates parts.
    fn code(&mut self, field: Field, value: &str) -> String {
        let value = self.text(field, value, true);
        if value.contains('#') || value.chars().any(char::is_whitespace) {
            self.fail(field, "code_format", "不可含空白或 # 符號");
        }
        value
    }

    fn date(&mut self, field: Field, value: &str, required: bool) -> Option<NaiveDate> {
        if value.trim().is_empty() && !required {
            return None;
        }
        parse_date(value)
            .map_err(|e| {
                // A birth date is personal data: the message does not
                // repeat its day, month and year.
                let message = match (field, &e) {
                    (Field::BirthDate, crate::roc_date::DateError::NoSuchDay { .. }) => {
                        "日期不存在".to_string()
                    }
                    _ => e.to_string(),
                };
                self.fail(field, e.code(), message)
            })
            .ok()
    }

    fn hours(&mut self, field: Field, value: &str) -> Option<Hours> {
        Hours::parse(value)
            .map_err(|e| self.fail(field, e.code(), e.to_string()))
            .ok()
    }
}

impl<S: AsRef<str>> RawRecord<S> {
    /// Checks every field and the rules between them. On failure returns all
    /// problems found; messages never quote the ID or the name.
    pub fn validate(&self) -> Result<TrainingRecord, Vec<Problem>> {
        let mut c = Checker {
            problems: Vec::new(),
        };

        let id_no = NationalId::parse(self.id_no.as_ref())
            .map_err(|e| c.fail(Field::IdNo, e.code(), e.to_string()))
            .ok();
        let name = c.text(Field::Name, self.name.as_ref(), true);
        let birth_date = c.date(Field::BirthDate, self.birth_date.as_ref(), false);
        let org_code = AgencyCode::parse(self.org_code.as_ref())
            .map_err(|e| c.fail(Field::OrgCode, e.code(), e.to_string()))
            .ok();
        let org_name = c.text(Field::OrgName, self.org_name.as_ref(), true);
        let course_code = c.code(Field::CourseCode, self.course_code.as_ref());
        let course_name = c.text(Field::CourseName, self.course_name.as_ref(), true);
        let category_code = c.text(Field::CategoryCode, self.category_code.as_ref(), false);
        let provider = c.text(Field::Provider, self.provider.as_ref(), false);
        let term = match self.term.as_ref().trim().parse::<u32>() {
            Ok(term) if term <= 9999 => Some(term),
            _ => {
                c.fail(Field::Term, "term_format", "期別須為 0 到 9999 的整數");
                None
            }
        };
        let start_date = c.date(Field::StartDate, self.start_date.as_ref(), true);
        let end_date = c.date(Field::EndDate, self.end_date.as_ref(), true);
        if let (Some(start), Some(end)) = (start_date, end_date)
            && end < start
        {
            c.fail(
                Field::EndDate,
                "end_before_start",
                "開課結束日期早於開課起始日期",
            );
        }
        let mode = LearningMode::parse(self.mode.as_ref());
        if mode.is_none() {
            c.fail(
                Field::Mode,
                "mode_format",
                "學習性質須為 1（數位）、2（實體）或 3（混成）",
            );
        }
        let digital = c.hours(Field::DigitalHours, self.digital_hours.as_ref());
        let physical = c.hours(Field::PhysicalHours, self.physical_hours.as_ref());
        let total = c.hours(Field::TotalHours, self.total_hours.as_ref());
        if let (Some(d), Some(p), Some(t)) = (digital, physical, total)
            && d.checked_add(p) != Some(t)
        {
            c.fail(
                Field::TotalHours,
                "hours_total_mismatch",
                format!("認證時數 {t} 不等於數位時數 {d} 加實體時數 {p}"),
            );
        }
        let status = LearningStatus::parse(self.status.as_ref());
        if self.status.as_ref().trim().is_empty() {
            c.fail(Field::Status, "required", "必填欄位為空白");
        }
        let passed_date = c.date(
            Field::PassedDate,
            self.passed_date.as_ref(),
            status.is_passed(),
        );
        let changed_date = c.date(Field::ChangedDate, self.changed_date.as_ref(), true);
        // The change date is the day the status became what it is: a
        // record cannot have passed after it.
        if let (Some(passed), Some(changed)) = (passed_date, changed_date)
            && passed > changed
        {
            c.fail(
                Field::PassedDate,
                "passed_after_change",
                "通過日期晚於異動日期；異動日期是狀態改為通過的日期，請確認兩個日期",
            );
        }

        match (
            id_no,
            org_code,
            term,
            start_date,
            end_date,
            mode,
            digital,
            physical,
            total,
            changed_date,
        ) {
            (
                Some(id_no),
                Some(org_code),
                Some(term),
                Some(start_date),
                Some(end_date),
                Some(mode),
                Some(digital_hours),
                Some(physical_hours),
                Some(total_hours),
                Some(changed_date),
            ) if c.problems.is_empty() => Ok(TrainingRecord {
                id_no,
                name,
                birth_date,
                org_code,
                org_name,
                course_code,
                course_name,
                category_code,
                provider,
                term,
                start_date,
                end_date,
                mode,
                digital_hours,
                physical_hours,
                total_hours,
                status,
                passed_date,
                changed_date,
            }),
            _ => Err(c.problems),
        }
    }
}
