// The staff pages: plain DOM over the same-origin API. Every text comes
// from the two dictionaries below (Traditional Chinese first, English on
// the switch); every API error is shown as its message and stable code.

const TEXT = {
  zh: {
    skip: "跳至主要內容", title: "終身學習紀錄入檔", signOut: "登出", signInTitle: "登入",
    tokenLabel: "存取權杖", tokenHelp: "請貼上登入系統核發的權杖；本機測試可用 local-stack token 產生。",
    signIn: "登入", navLabel: "功能", tabLog: "匯入紀錄", tabDownload: "下載", tabUpload: "上傳 CSV",
    tabRecords: "個人紀錄", from: "起日", to: "迄日", search: "查詢", logCaption: "匯入紀錄（最新在前）",
    colStarted: "開始時間", colKind: "種類", colWhat: "資料日期／檔案", colStatus: "狀態", colCounts: "筆數",
    colDetail: "詳細", more: "載入更多", detailTitle: "詳細內容", report: "下載拒收報表", close: "關閉",
    downloadGo: "查詢通過名單", exportCsv: "匯出 CSV", encoding: "編碼",
    downloadHelp: "一次最多 {days} 天；下載的紀錄會鎖定，僅能檢視。", downloadCaption: "通過認證名單",
    colId: "身分證字號", colName: "姓名", colCourse: "課程", colHours: "認證時數", colPassed: "通過日期",
    uploadLabel: "選擇 CSV 檔（學員通過認證名單）", uploadGo: "上傳並匯入", uploadProgress: "上傳進度",
    importProgress: "匯入進度", recordsCaption: "訓練紀錄", colTerm: "期別", colStart: "開課日期",
    colSource: "來源", colActions: "動作", editTitle: "修改紀錄", digitalHours: "數位時數",
    physicalHours: "實體時數", save: "儲存", cancel: "取消", edit: "修改", delete: "刪除",
    detail: "詳細", lockedMark: "鎖定", confirmDelete: "確定刪除這筆紀錄？",
    kind_sync: "每日自動入檔", kind_csv_import: "CSV 入檔", kind_download: "名單下載", kind_removal: "移除鎖定紀錄", kind_settlement: "紀錄歸屬處理", decision: "處理結果", decision_keep: "保留原機關紀錄", decision_transfer: "改由申請機關的紀錄取代", reason: "原因",
    status_running: "執行中", status_succeeded: "成功", status_partial: "部分成功", status_failed: "失敗",
    source_auto_import: "入口網自動入檔", source_download: "名單下載", source_csv_import: "CSV 入檔",
    source_staff_entered: "人事人員登錄", loading: "讀取中…", loaded: "共 {n} 筆", noEntries: "查無資料",
    tooLong: "下載區間最多 {days} 天", signedIn: "已登入：{agency}（{role}）", uploading: "上傳中…",
    uploaded: "已上傳，等待匯入開始…", tooLarge: "檔案超過上限 {mib} MiB，請分成較小的檔案", importRunning: "匯入中：已讀 {rows} 列",
    importDone: "匯入完成：{status}，新增 {inserted}、更新 {updated}、取代人事登錄 {replaced_staff}、未變 {unchanged}、拒收 {rejected}",
    saved: "已儲存", deleted: "已刪除", counts: "筆數", error: "錯誤", lang: "English",
    fetched: "取得", inserted: "新增", updated: "更新", unchanged: "未變", rejected: "拒收", failed: "失敗",
    replaced_staff: "取代人事登錄", skipped: "略過", rocDate: "民國 {date}",
    detailRecords: "本機關紀錄明細", change_inserted: "新增", change_updated: "更新",
    change_replaced_staff: "取代人事登錄", change_withdrawn: "撤銷",
    change_corrected: "更正（入口網更正期別或開課日期）", change_corrected_away: "更正前的紀錄（已移除）",
    importedThrough: "自動入檔已匯入至 {date}", notImportedYet: "自動入檔尚未執行", upToDate: "已是最新",
    daysBehind: "落後 {n} 天", lastNight: "最近一晚（{date}）{status}：{counts}",
    withdrawn: "撤銷", rows: "列", file: "檔案", dataDate: "資料日期", requestedBy: "執行者",
    tabAgency: "本機關紀錄", passedFrom: "通過日期起", agencyCaption: "本機關人員的訓練紀錄（依通過日期）",
    tabHours: "學習時數", hoursYear: "年度（民國）", hoursMinimum: "最低時數", hoursCaption: "本機關人員的年度學習時數（依通過日期）",
    colRecords: "筆數", colDigital: "數位時數", colPhysical: "實體時數", colShort: "未達時數",
    hoursBelow: "{year} 年度共 {n} 人，其中 {below} 人未達 {minimum} 小時",
    createOpen: "新增人事登錄紀錄", createTitle: "新增紀錄（本機關人員，由人事人員登錄）", birthDate: "出生日期（選填）",
    orgName: "服務機關名稱", courseCode: "課程代碼", courseName: "課程名稱", endDate: "結束日期", mode: "學習性質",
    mode1: "數位", mode2: "實體", mode3: "混成", created: "已新增", needId: "請先輸入身分證字號",
    help: "說明",
  },
  en: {
    skip: "Skip to content", title: "Learning records import", signOut: "Sign out", signInTitle: "Sign in",
    tokenLabel: "Access token", tokenHelp: "Paste the token your sign-in service issued; locally, `local-stack token` makes one.",
    signIn: "Sign in", navLabel: "Sections", tabLog: "Import log", tabDownload: "Download", tabUpload: "Upload CSV",
    tabRecords: "A person's records", from: "From", to: "To", search: "Search", logCaption: "Import log (newest first)",
    colStarted: "Started", colKind: "Kind", colWhat: "Data date / file", colStatus: "Status", colCounts: "Counts",
    colDetail: "Detail", more: "Load more", detailTitle: "Detail", report: "Download the rejection report", close: "Close",
    downloadGo: "Fetch passed records", exportCsv: "Export CSV", encoding: "Encoding",
    downloadHelp: "At most {days} days at a time; downloaded records are locked (view only).", downloadCaption: "Passed records",
    colId: "National ID", colName: "Name", colCourse: "Course", colHours: "Hours", colPassed: "Passed on",
    uploadLabel: "Choose a CSV file (passed-records list)", uploadGo: "Upload and import", uploadProgress: "Upload",
    importProgress: "Import", recordsCaption: "Training records", colTerm: "Term", colStart: "Starts",
    colSource: "Source", colActions: "Actions", editTitle: "Edit record", digitalHours: "Digital hours",
    physicalHours: "In-person hours", save: "Save", cancel: "Cancel", edit: "Edit", delete: "Delete",
    detail: "Detail", lockedMark: "Locked", confirmDelete: "Delete this record?",
    kind_sync: "Nightly sync", kind_csv_import: "CSV import", kind_download: "Download", kind_removal: "Locked record removed", kind_settlement: "Ownership settled", decision: "Decision", decision_keep: "Kept by the holding agency", decision_transfer: "Given to the claiming agency", reason: "Reason",
    status_running: "Running", status_succeeded: "Succeeded", status_partial: "Partial", status_failed: "Failed",
    source_auto_import: "Portal (nightly)", source_download: "Portal (download)", source_csv_import: "CSV import",
    source_staff_entered: "Entered by staff", loading: "Loading…", loaded: "{n} found", noEntries: "Nothing found",
    tooLong: "A download covers at most {days} days", signedIn: "Signed in: {agency} ({role})", uploading: "Uploading…",
    uploaded: "Uploaded; waiting for the import to start…", tooLarge: "The file is over the {mib} MiB limit; split it into smaller files", importRunning: "Importing: {rows} rows read",
    importDone: "Import finished: {status}; {inserted} new, {updated} updated, {replaced_staff} replaced a hand-typed record, {unchanged} unchanged, {rejected} refused",
    saved: "Saved", deleted: "Deleted", counts: "Counts", error: "Error", lang: "中文",
    fetched: "fetched", inserted: "new", updated: "updated", unchanged: "unchanged", rejected: "refused", failed: "failed",
    replaced_staff: "replaced a hand-typed record", skipped: "skipped", rocDate: "ROC {date}",
    detailRecords: "The agency's records, one by one", change_inserted: "New", change_updated: "Updated",
    change_replaced_staff: "Replaced a hand-typed record", change_withdrawn: "Withdrawn",
    change_corrected: "Corrected (the portal corrected its term or start date)", change_corrected_away: "Before the correction (removed)",
    importedThrough: "Automatic import done through {date}", notImportedYet: "The automatic import has not run yet",
    upToDate: "up to date", daysBehind: "{n} days behind", lastNight: "last night ({date}) {status}: {counts}",
    withdrawn: "withdrawn", rows: "rows", file: "File", dataDate: "Data date", requestedBy: "Requested by",
    tabAgency: "Agency records", passedFrom: "Passed from", agencyCaption: "The agency's training records (by date passed)",
    tabHours: "Yearly hours", hoursYear: "Year (ROC)", hoursMinimum: "Minimum hours", hoursCaption: "The agency's people's learning hours in the year (by date passed)",
    colRecords: "Records", colDigital: "Digital", colPhysical: "In person", colShort: "Short by",
    hoursBelow: "{year}: {n} people, {below} below {minimum} hours",
    createOpen: "Add a staff-entered record", createTitle: "New record (a person of this agency, entered by staff)", birthDate: "Birth date (optional)",
    orgName: "Agency name", courseCode: "Course code", courseName: "Course name", endDate: "Ends", mode: "Mode",
    mode1: "Online", mode2: "In person", mode3: "Blended", created: "Added", needId: "Enter the national ID first",
    help: "Help (in Chinese)",
  },
};

const $ = (selector) => document.querySelector(selector);
let lang = localStorage.getItem("lang") === "en" ? "en" : "zh";
let token = sessionStorage.getItem("token") || "";
let logCursor = null;
let editing = null;
// The deployment's rules, from GET /v1/settings once signed in (the API
// is the one place they are configured); the letter's defaults until then.
let settings = { download_max_days: 7 };

function t(key, values = {}) {
  const text = TEXT[lang][key] ?? TEXT.zh[key] ?? key;
  const known = { days: settings.download_max_days, ...values };
  return text.replace(/\{(\w+)\}/g, (_, name) => String(known[name] ?? ""));
}

function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-Hant-TW" : "en";
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  const other = $("#lang");
  other.textContent = t("lang");
  other.lang = lang === "zh" ? "en" : "zh-Hant-TW";
  if (token) showWho();
  showRocDates();
}

// Date pickers show the browser's calendar; beside each, the date as
// staff write it (民國 115/12/05).
function showRocDates() {
  for (const input of document.querySelectorAll('input[type="date"]')) {
    let shown = input.nextElementSibling;
    if (!shown || !shown.classList.contains("roc")) {
      shown = document.createElement("span");
      shown.className = "roc";
      input.after(shown);
    }
    shown.textContent = input.value ? t("rocDate", { date: dateShown(input.value).split("（")[0] }) : "";
  }
}

function say(message) { $("#status").textContent = message; $("#alert").hidden = true; }
function fail(message) { const alert = $("#alert"); alert.textContent = message; alert.hidden = false; }

class ApiFailure extends Error {
  constructor(status, body) {
    super(body?.message ? `${body.message}（${body.code}）` : `HTTP ${status}`);
    this.status = status;
    this.code = body?.code;
  }
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${token}`, ...(options.headers || {}) };
  if (options.json !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.json !== undefined ? JSON.stringify(options.json) : undefined,
  });
  if (response.status === 401) signOut();
  if (!response.ok) throw new ApiFailure(response.status, await response.json().catch(() => null));
  return response;
}

async function guarded(work) {
  try { await work(); } catch (error) { fail(error.message); }
}

// Sign-in: the token's claims (agency, role) are shown, not trusted: the
// API checks the token on every call.
function claims() {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(payload), (c) => c.charCodeAt(0))));
  } catch { return {}; }
}

function showWho() {
  const c = claims();
  $("#who").textContent = t("signedIn", { agency: c.agency ?? "?", role: c.role ?? "?" });
}

function signedIn() {
  $("#sign-in").hidden = true;
  $("#app").hidden = false;
  $("#sign-out").hidden = false;
  showWho();
  guarded(async () => {
    await loadSettings();
    await loadStatus();
    await loadLog();
  });
}

// At the top of the log: how far the automatic import has got, and last
// night for the agency at a glance.
async function loadStatus() {
  const status = await (await api("/v1/status")).json();
  const through = status.imported_through
    ? t("importedThrough", { date: dateShown(status.imported_through).split("（")[0] })
    : t("notImportedYet");
  const behind = status.days_behind === 0 ? t("upToDate") : t("daysBehind", { n: status.days_behind });
  const night = status.last_night;
  const last = night
    ? t("lastNight", { date: dateShown(night.data_date).split("（")[0], status: t(`status_${night.status}`), counts: countsText(night) })
    : "";
  $("#sync-status").textContent = [`${through}（${behind}）`, last].filter(Boolean).join("；");
}

// The log's default range (the last calendar month) and the download's
// window (ending today, the lag the download exists for) as the API has them.
async function loadSettings() {
  settings = await (await api("/v1/settings")).json();
  $("#log-to").value = settings.today;
  $("#log-from").value = settings.log_default_from;
  $("#download-to").value = settings.today;
  $("#download-from").value = addDays(settings.today, 1 - settings.download_max_days);
  $("#agency-to").value = settings.today;
  $("#agency-from").value = settings.log_default_from;
  applyLanguage();
}

function signOut() {
  token = "";
  sessionStorage.removeItem("token");
  $("#sign-in").hidden = false;
  $("#app").hidden = true;
  $("#sign-out").hidden = true;
  $("#who").textContent = "";
}

// Tabs, with the keyboard as the ARIA pattern has it.
function selectTab(tab) {
  for (const other of document.querySelectorAll('[role="tab"]')) {
    const on = other === tab;
    other.setAttribute("aria-selected", String(on));
    other.tabIndex = on ? 0 : -1;
    $(`#${other.getAttribute("aria-controls")}`).hidden = !on;
  }
  tab.focus();
}

function tabKeys(event) {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const at = tabs.indexOf(document.activeElement);
  const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
  if (next === undefined || at < 0) return;
  event.preventDefault();
  selectTab(tabs[(next + tabs.length) % tabs.length]);
}

// Dates: what "today" is in Taipei, as YYYY-MM-DD.
function taipeiToday() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Taipei" }).format(new Date());
}
function addDays(iso, days) {
  const date = new Date(`${iso}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}
function daysBetween(from, to) {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86400000);
}
// A moment as staff read it: ROC date and time in Taipei, 115/12/05 01:30.
function when(timestamp) {
  if (!timestamp) return "";
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: "Asia/Taipei", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(timestamp)).map((p) => [p.type, p.value]));
  return `${String(Number(parts.year) - 1911).padStart(3, "0")}/${parts.month}/${parts.day} ${parts.hour}:${parts.minute}`;
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (className) td.className = className;
  row.append(td);
  return td;
}

function badge(status) {
  const span = document.createElement("span");
  span.className = `badge ${status}`;
  span.textContent = t(`status_${status}`);
  return span;
}

function countsText(entry) {
  const c = entry.counts || {};
  // Every count, so they add up: a record staff typed in and the portal
  // replaced is said, not hidden.
  const keys = entry.kind === "csv_import"
    ? ["rows", "inserted", "updated", "replaced_staff", "unchanged", "rejected"]
    : ["fetched", "inserted", "updated", "replaced_staff", "unchanged", "withdrawn", "skipped", "failed"];
  return keys.filter((k) => c[k] !== undefined).map((k) => `${t(k)} ${c[k]}`).join("、");
}

// The import log.
async function loadLog(more = false) {
  const from = $("#log-from").value, to = $("#log-to").value;
  const query = new URLSearchParams({ from, to });
  if (more && logCursor) query.set("cursor", logCursor);
  say(t("loading"));
  const page = await (await api(`/v1/import-logs?${query}`)).json();
  const body = $("#log-table tbody");
  if (!more) body.replaceChildren();
  for (const entry of page.entries) {
    const row = document.createElement("tr");
    cell(row, when(entry.started_at));
    cell(row, t(`kind_${entry.kind}`));
    cell(row, entry.kind === "csv_import" ? entry.file.key.split("/").pop()
      : entry.kind === "sync" ? dateShown(entry.data_date)
      : entry.kind === "removal" || entry.kind === "settlement" ? `${entry.record.id_no} ${entry.record.course_code}`
      : `${entry.from} – ${entry.to}`);
    const status = cell(row, "");
    status.append(badge(entry.status));
    if (entry.status === "running" && entry.kind === "csv_import" && entry.file.size) {
      const bar = document.createElement("progress");
      bar.max = entry.file.size;
      bar.value = entry.bytes_done || 0;
      bar.setAttribute("aria-label", t("importProgress"));
      status.append(" ", bar);
    }
    cell(row, countsText(entry));
    const open = document.createElement("button");
    open.type = "button";
    open.className = "secondary";
    open.textContent = t("detail");
    open.setAttribute("aria-label", `${t("detail")} ${entry.log_id}`);
    open.addEventListener("click", () => guarded(() => showDetail(entry.log_id)));
    cell(row, "").append(open);
    body.append(row);
  }
  logCursor = page.next_cursor || null;
  $("#log-more").hidden = !logCursor;
  say(body.children.length ? t("loaded", { n: body.children.length }) : t("noEntries"));
}

async function showDetail(logId) {
  // The entry itself, with `report_url` beside its fields.
  const entry = await (await api(`/v1/import-logs/${encodeURIComponent(logId)}`)).json();
  const list = $("#log-detail-list");
  list.replaceChildren();
  const add = (term, value) => {
    if (value === undefined || value === null || value === "") return;
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value;
    list.append(dt, dd);
  };
  add(t("colKind"), t(`kind_${entry.kind}`));
  add(t("colStatus"), t(`status_${entry.status}`));
  add(t("colStarted"), when(entry.started_at));
  add(t("dataDate"), dateShown(entry.data_date));
  add(t("file"), entry.file?.key);
  add(t("counts"), countsText(entry));
  add(t("requestedBy"), entry.requested_by);
  add(t("reason"), entry.reason);
  if (entry.decision) add(t("decision"), t(`decision_${entry.decision}`));
  add(t("error"), entry.error ? `${entry.error.message}（${entry.error.code}）` : "");
  for (const failure of entry.failures || []) add(`#${failure.position} ${failure.masked_id}`, `${failure.message}（${failure.code}）`);
  // A night's day or a download: what it did to the agency's records.
  const changed = $("#log-detail-records");
  const items = changed.querySelector("ul");
  items.replaceChildren();
  if (entry.kind === "sync" || entry.kind === "download") {
    const { records } = await (await api(`/v1/import-logs/${encodeURIComponent(logId)}/records`)).json();
    for (const r of records) {
      const item = document.createElement("li");
      item.textContent = `${t(`change_${r.change}`)}：${r.id_no} ${r.record?.name ?? ""} ${r.course_code} ${r.record?.course_name ?? ""}（${dateShown(r.start_date).split("（")[0]}）`;
      items.append(item);
    }
  }
  changed.hidden = !items.children.length;
  const report = $("#log-report");
  report.hidden = !entry.report_url;
  if (entry.report_url) report.href = entry.report_url;
  const section = $("#log-detail");
  section.hidden = false;
  section.focus();
}

// Downloads.
function downloadWindow() {
  const from = $("#download-from").value, to = $("#download-to").value;
  const days = daysBetween(from, to) + 1;
  if (days < 1 || days > settings.download_max_days) throw new Error(t("tooLong"));
  return { from, to };
}

// The last download fetched, so 匯出 CSV of the same window makes the file
// from it instead of asking the portal again.
let lastDownload = null;

async function download() {
  const range = downloadWindow();
  say(t("loading"));
  const result = await (await api("/v1/downloads?format=json", { method: "POST", json: range })).json();
  lastDownload = { ...range, logId: result.entry.log_id };
  const body = $("#download-table tbody");
  body.replaceChildren();
  for (const record of result.records) {
    const row = document.createElement("tr");
    cell(row, record.id_no);
    cell(row, record.name);
    cell(row, `${record.course_code} ${record.course_name}`);
    cell(row, record.total_hours);
    cell(row, dateShown(record.passed_date));
    body.append(row);
  }
  say(t("loaded", { n: result.records.length }));
}

async function exportCsv() {
  const range = downloadWindow();
  const encoding = $("#download-encoding").value;
  const same = lastDownload && lastDownload.from === range.from && lastDownload.to === range.to;
  const response = same
    ? await api(`/v1/downloads/${encodeURIComponent(lastDownload.logId)}?format=csv&encoding=${encoding}`)
    : await api(`/v1/downloads?format=csv&encoding=${encoding}`, { method: "POST", json: range });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = `passed-${range.from}-${range.to}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  say(t("saved"));
}

// Uploads: the presigned form posted straight to S3 (XHR, for its progress
// events), then the import followed through the log until it is over. S3
// refuses a file over the form's limit; the page says so before sending.
async function upload() {
  const file = $("#upload-file").files[0];
  if (!file) return;
  const ticket = await (await api("/v1/uploads", { method: "POST", json: { file_name: file.name } })).json();
  if (file.size > ticket.max_bytes) {
    fail(t("tooLarge", { mib: Math.floor(ticket.max_bytes / 1048576) }));
    return;
  }
  const form = new FormData();
  for (const [name, value] of Object.entries(ticket.fields)) form.append(name, value);
  form.append("file", file);
  const startedAfter = Date.now() - 60000;
  say(t("uploading"));
  await new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(ticket.method, ticket.url);
    request.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      const percent = Math.round((event.loaded / event.total) * 100);
      $("#upload-progress").value = percent;
      $("#upload-percent").textContent = `${percent}%`;
    });
    request.addEventListener("load", () => (request.status < 300 ? resolve() : reject(new Error(`S3 ${request.status}`))));
    request.addEventListener("error", () => reject(new Error("S3")));
    request.send(form);
  });
  $("#upload-progress").value = 100;
  $("#upload-percent").textContent = "100%";
  say(t("uploaded"));
  for (let tries = 0; tries < 600; tries++) {
    // Today asked again each time: an import that starts after midnight
    // is found on the new day.
    const today = taipeiToday();
    const page = await (await api(`/v1/import-logs?from=${addDays(today, -1)}&to=${today}&limit=200`)).json();
    const entry = page.entries.find((e) => e.kind === "csv_import" && e.file.key === ticket.key
      && Date.parse(e.started_at) >= startedAfter);
    if (entry) {
      const bar = $("#import-progress");
      bar.value = entry.file.size ? Math.round(((entry.bytes_done || 0) / entry.file.size) * 100) : 0;
      if (entry.status !== "running") {
        bar.value = 100;
        const c = entry.counts;
        const done = t("importDone", { status: t(`status_${entry.status}`), inserted: c.inserted, updated: c.updated,
          replaced_staff: c.replaced_staff ?? 0, unchanged: c.unchanged, rejected: c.rejected });
        $("#import-state").textContent = done;
        say(done);
        return;
      }
      $("#import-state").textContent = t("importRunning", { rows: entry.counts.rows });
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// Dates as staff read them: ROC (民國) first, ISO beside it.
function dateShown(iso) {
  if (!iso) return "";
  const [y, m, d] = iso.split("-");
  return `${String(Number(y) - 1911).padStart(3, "0")}/${m}/${d}（${iso}）`;
}

// The agency's records by passed date, a page at a time.
let agencyCursor = null;
async function loadAgency(more = false) {
  const query = new URLSearchParams({ from: $("#agency-from").value, to: $("#agency-to").value });
  if (more && agencyCursor) query.set("cursor", agencyCursor);
  say(t("loading"));
  const page = await (await api(`/v1/records?${query}`)).json();
  const body = $("#agency-table tbody");
  if (!more) body.replaceChildren();
  for (const record of page.records) {
    const row = document.createElement("tr");
    cell(row, record.id_no);
    cell(row, record.name);
    cell(row, `${record.course_code} ${record.course_name}`);
    cell(row, record.total_hours);
    cell(row, dateShown(record.passed_date));
    cell(row, t(`source_${record.source}`));
    body.append(row);
  }
  agencyCursor = page.next_cursor || null;
  $("#agency-more").hidden = !agencyCursor;
  say(body.children.length ? t("loaded", { n: body.children.length }) : t("noEntries"));
}

// A year's hours by person, those short of the minimum marked.
function hoursQuery() {
  return new URLSearchParams({ year: $("#hours-year").value, minimum: $("#hours-minimum").value });
}

async function loadHours() {
  say(t("loading"));
  const year = await (await api(`/v1/hours?${hoursQuery()}`)).json();
  const body = $("#hours-table tbody");
  body.replaceChildren();
  for (const person of year.people) {
    const row = document.createElement("tr");
    if (person.short_by) row.className = "short";
    for (const value of [person.id_no, person.name, String(person.records), person.digital_hours,
      person.physical_hours, person.total_hours, person.short_by ?? ""]) cell(row, value);
    body.append(row);
  }
  const done = t("hoursBelow", { year: year.year - 1911, n: year.people.length, below: year.below_minimum, minimum: year.minimum });
  $("#hours-below").textContent = done;
  say(done);
}

async function exportHours() {
  const query = hoursQuery();
  query.set("format", "csv");
  const response = await api(`/v1/hours?${query}`);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = `hours-${$("#hours-year").value}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  say(t("saved"));
}

// A staff-entered record for the person searched, in the caller's agency.
async function createRecord() {
  const id = $("#records-id").value.trim().toUpperCase();
  if (!id) throw new Error(t("needId"));
  const value = (field) => $(`#create-${field}`).value.trim();
  const digital = value("digital") || "0", physical = value("physical") || "0";
  const passed = value("passed");
  const body = {
    id_no: id, name: value("name"), birth_date: value("birth") || null, org_code: claims().agency,
    org_name: value("org-name"), course_code: value("course-code"), course_name: value("course-name"),
    term: value("term"), start_date: value("start"), end_date: value("end"), mode: value("mode"),
    digital_hours: digital, physical_hours: physical,
    total_hours: (Math.round((Number(digital) + Number(physical)) * 10) / 10).toFixed(1),
    status: "通過", passed_date: passed, changed_date: passed,
  };
  const { person } = await findPerson(id);
  await api(`/v1/people/${encodeURIComponent(person)}/records`, { method: "POST", json: body });
  $("#create-form").hidden = true;
  await loadRecords();
  say(t("created"));
}

// A person is looked up by national ID in a POST body: the ID never
// goes into a URL (access logs, proxies, the browser's history keep
// those). The answer's handle names the person in every later URL.
async function findPerson(id) {
  return (await api("/v1/people/search", { method: "POST", json: { id_no: id } })).json();
}

// A person's records: locked ones marked, staff-entered ones editable.
async function loadRecords() {
  const id = $("#records-id").value.trim().toUpperCase();
  say(t("loading"));
  const { records } = await findPerson(id);
  const body = $("#records-table tbody");
  body.replaceChildren();
  for (const record of records) {
    const row = document.createElement("tr");
    cell(row, `${record.course_code} ${record.course_name}`);
    cell(row, String(record.term));
    cell(row, dateShown(record.start_date));
    cell(row, record.total_hours);
    cell(row, t(`source_${record.source}`));
    const actions = cell(row, "");
    if (record.locked) {
      actions.className = "locked";
      actions.textContent = `${t("lockedMark")}：${record.locked_reason ?? ""}`;
    } else {
      const edit = document.createElement("button");
      edit.type = "button";
      edit.className = "secondary";
      edit.textContent = t("edit");
      edit.setAttribute("aria-label", `${t("edit")} ${record.course_code}`);
      edit.addEventListener("click", () => startEdit(record));
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "danger";
      remove.textContent = t("delete");
      remove.setAttribute("aria-label", `${t("delete")} ${record.course_code}`);
      remove.addEventListener("click", () => guarded(() => removeRecord(record)));
      actions.append(edit, " ", remove);
    }
    body.append(row);
  }
  say(t("loaded", { n: records.length }));
}

function recordPath(record) {
  return `/v1/people/${encodeURIComponent(record.person)}/records/${encodeURIComponent(record.course_code)}/${record.term}/${record.start_date}`;
}

function startEdit(record) {
  editing = record;
  $("#edit-digital").value = record.digital_hours;
  $("#edit-physical").value = record.physical_hours;
  $("#edit-form").hidden = false;
  $("#edit-digital").focus();
}

async function saveEdit() {
  const record = editing;
  const digital = $("#edit-digital").value.trim(), physical = $("#edit-physical").value.trim();
  const total = (Math.round((Number(digital) + Number(physical)) * 10) / 10).toFixed(1);
  const fields = ["id_no", "name", "birth_date", "org_code", "org_name", "course_code", "course_name",
    "category_code", "provider", "term", "start_date", "end_date", "mode", "status", "passed_date", "changed_date"];
  const body = Object.fromEntries(fields.map((f) => [f, record[f] ?? null]));
  Object.assign(body, { digital_hours: digital, physical_hours: physical, total_hours: total });
  await api(recordPath(record), { method: "PUT", json: body, headers: { "If-Match": `"${record.version}"` } });
  $("#edit-form").hidden = true;
  editing = null;
  await loadRecords();
  say(t("saved"));
}

async function removeRecord(record) {
  if (!window.confirm(t("confirmDelete"))) return;
  await api(recordPath(record), { method: "DELETE", headers: { "If-Match": `"${record.version}"` } });
  await loadRecords();
  say(t("deleted"));
}

function start() {
  const today = taipeiToday();
  $("#log-to").value = today;
  $("#log-from").value = addDays(today, -30);
  // The download closes the one-day lag: its window ends today.
  $("#download-to").value = today;
  $("#download-from").value = addDays(today, -6);
  $("#lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("lang", lang);
    applyLanguage();
  });
  $("#sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $("#token").value.trim();
    sessionStorage.setItem("token", token);
    $("#token").value = "";
    signedIn();
  });
  $("#sign-out").addEventListener("click", signOut);
  for (const input of document.querySelectorAll('input[type="date"]')) input.addEventListener("input", showRocDates);
  for (const tab of document.querySelectorAll('[role="tab"]')) tab.addEventListener("click", () => selectTab(tab));
  $("#tabs").addEventListener("keydown", tabKeys);
  $("#log-form").addEventListener("submit", (event) => { event.preventDefault(); guarded(() => loadLog()); });
  $("#log-more").addEventListener("click", () => guarded(() => loadLog(true)));
  $("#log-detail-close").addEventListener("click", () => { $("#log-detail").hidden = true; });
  $("#download-form").addEventListener("submit", (event) => { event.preventDefault(); guarded(download); });
  $("#download-csv").addEventListener("click", () => guarded(exportCsv));
  $("#upload-form").addEventListener("submit", (event) => { event.preventDefault(); guarded(upload); });
  $("#records-form").addEventListener("submit", (event) => { event.preventDefault(); guarded(loadRecords); });
  $("#edit-form").addEventListener("submit", (event) => { event.preventDefault(); guarded(saveEdit); });
  $("#edit-cancel").addEventListener("click", () => { $("#edit-form").hidden = true; editing = null; });
  $("#agency-form").addEventListener("submit", (event) => { event.preventDefault(); guarded(() => loadAgency()); });
  $("#agency-more").addEventListener("click", () => guarded(() => loadAgency(true)));
  $("#hours-form").addEventListener("submit", (event) => { event.preventDefault(); guarded(loadHours); });
  $("#hours-csv").addEventListener("click", () => guarded(exportHours));
  // Last year by default: the one a personnel office checks.
  $("#hours-year").value = Number(taipeiToday().slice(0, 4)) - 1912;
  $("#create-open").addEventListener("click", () => { $("#create-form").hidden = false; $("#create-name").focus(); });
  $("#create-form").addEventListener("submit", (event) => { event.preventDefault(); guarded(createRecord); });
  $("#create-cancel").addEventListener("click", () => { $("#create-form").hidden = true; });
  applyLanguage();
  if (token) signedIn();
}

start();
