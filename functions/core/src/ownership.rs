//! Who may write a record's key, and what a writer who may not learns.
//!
//! A record belongs to the agency its `org_code` names: the agency the
//! person served when they learned, as the portal or that agency's own
//! file states it. Records stay with that agency when the person moves on
//! (the later agency sees the records it writes, and the portal's that
//! name it); what WebHR can verify is who states a record, not whom a
//! person works for today, so it never lets one agency decide that another
//! agency's record is its own. Therefore:
//!
//! 1. **The portal writes any key.** It is the authority: its record
//!    replaces a CSV or staff record of any agency (and the record then
//!    belongs to the agency the portal names).
//! 2. **An agency writes only its own records** (a CSV row or a staff
//!    entry names the writing agency), over a free key or its own unlocked
//!    record.
//! 3. **A key another agency holds is refused** with the answer any held
//!    key gets — the same code and message as the writer's own locked
//!    record — so a write cannot tell whose the key is; the case is kept
//!    as a *dispute* that administrators list and settle (keep, or give
//!    the key to the claimant). Every such attempt is audited.
//!
//! The decision itself, for every writer, is [`crate::write::plan_write`].

/// The one code a refused row gets whichever agency holds its key.
pub const HELD_CODE: &str = "record_held";

/// Its message, for staff: true whoever holds the key, and says what to do.
pub const HELD_MESSAGE: &str = "WebHR 已有此人員同一課程、期別與開課起始日期的紀錄，且無法由貴機關更新（入口網匯入的鎖定紀錄，或非貴機關的紀錄）；內容如需更正請至終身學習入口網修改，紀錄歸屬有疑義者已轉請系統管理者處理";
