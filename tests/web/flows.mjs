// Every staff flow of the pages, clicked through in headless Chromium
// (Debian's, driven by playwright-core) against the local stack, with a
// screenshot of each step. Run by scripts/web-test.sh, which starts the
// stack and passes: BASE (the API and pages), STAFF_TOKEN, CSV (a file to
// upload), OUT (where screenshots go), CHROMIUM (the browser).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const { BASE, STAFF_TOKEN, CSV, OUT, CHROMIUM } = process.env;
const profile = mkdtempSync(join(tmpdir(), "webhr-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  acceptDownloads: true,
  viewport: { width: 1280, height: 900 },
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = context.pages()[0] ?? await context.newPage();
const problems = [];
page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
page.on("console", (message) => { if (message.type() === "error") problems.push(`console: ${message.text()}`); });
// No URL the page asks for may carry a national ID (access logs, proxies
// and the browser's history keep URLs).
const idShaped = /[A-Za-z][1289A-Da-d][0-9]{8}/;
page.on("request", (request) => {
  if (idShaped.test(decodeURIComponent(request.url()))) problems.push(`an ID in a URL: ${request.url().replace(idShaped, "<ID>")}`);
});

let step = 0;
async function shot(name) {
  step += 1;
  await page.screenshot({ path: join(OUT, `${String(step).padStart(2, "0")}-${name}.png`), fullPage: true });
}
const passed = [];
async function flow(name, body) {
  await body();
  passed.push(name);
  console.log(`ok - ${name}`);
}

try {
  await flow("sign in with the development token; the last month's import log shows", async () => {
    await page.goto(BASE);
    await page.getByLabel("存取權杖").fill(STAFF_TOKEN);
    await page.getByRole("button", { name: "登入" }).click();
    await page.locator("#who").filter({ hasText: "376550000A" }).waitFor();
    await page.locator("#log-table tbody tr").first().waitFor();
    const statuses = await page.locator("#log-table .badge").allTextContents();
    assert.ok(statuses.length > 0 && statuses.every((s) => ["成功", "部分成功", "失敗", "執行中"].includes(s)), statuses.join());
    await shot("import-log");
  });

  await flow("English switch and back", async () => {
    await page.getByRole("button", { name: "English" }).click();
    await page.getByRole("tab", { name: "Import log" }).waitFor();
    assert.equal(await page.locator("html").getAttribute("lang"), "en");
    await shot("english");
    await page.getByRole("button", { name: "中文" }).click();
    await page.getByRole("tab", { name: "匯入紀錄" }).waitFor();
  });

  await flow("a date-range query, and a run's detail with its counts", async () => {
    const to = await page.locator("#log-to").inputValue();
    const from = new Date(`${to}T00:00:00Z`);
    from.setUTCDate(from.getUTCDate() - 3);
    await page.locator("#log-from").fill(from.toISOString().slice(0, 10));
    await page.getByRole("button", { name: "查詢" }).first().click();
    await page.locator("#status").filter({ hasText: /共 \d+ 筆/ }).waitFor();
    // How far the automatic import has got, at the top of the log.
    assert.match(await page.locator("#sync-status").textContent(), /自動入檔已匯入至 1\d\d\/\d\d\/\d\d（(已是最新|落後 \d+ 天)）/);
    // Times and dates as staff write them: ROC, beside the picker too.
    assert.match((await page.locator("#log-table tbody tr td").first().textContent()).trim(), /^1\d\d\/\d\d\/\d\d \d\d:\d\d$/);
    assert.match(await page.locator("#log-from + .roc").textContent(), /^民國 1\d\d\/\d\d\/\d\d$/);
    await page.locator("#log-table tbody tr").first().getByRole("button").click();
    await page.locator("#log-detail").waitFor({ state: "visible" });
    const detail = await page.locator("#log-detail-list").textContent();
    assert.match(detail, /筆數/);

    await shot("log-detail");
    await page.getByRole("button", { name: "關閉" }).click();
  });

  let person = "";
  await flow("download a window of at most 7 days, see it, export CSV; 8 days refused", async () => {
    await page.getByRole("tab", { name: "下載" }).click();
    // 查詢 then 匯出 CSV: one download (one portal fetch, one log entry).
    let posts = 0;
    const count = (request) => {
      if (request.method() === "POST" && new URL(request.url()).pathname === "/v1/downloads") posts += 1;
    };
    page.on("request", count);
    await page.getByRole("button", { name: "查詢通過名單" }).click();
    await page.locator("#download-table tbody tr").first().waitFor();
    person = (await page.locator("#download-table tbody tr td").first().textContent()).trim();
    assert.match(person, /^[A-Z][0-9A-D][0-9]{8}$/);
    await shot("download");
    const [file] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "匯出 CSV" }).click()]);
    const bytes = readFileSync(await file.path());
    assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], "UTF-8 with BOM for Excel");
    assert.match(bytes.toString("utf8"), /身分證字號/);
    page.off("request", count);
    assert.equal(posts, 1, "the export made the file from the download just fetched");
    // A night in the log that brought the agency records: what it did to
    // them, one by one.
    await page.getByRole("tab", { name: "匯入紀錄" }).click();
    await page.locator("#log-from").fill(new Date(Date.now() - 30 * 86400000).toISOString().slice(0, 10));
    await page.locator("#log-form").getByRole("button", { name: "查詢" }).click();
    await page.locator("#status").filter({ hasText: /共 \d+ 筆/ }).waitFor();
    await page.locator("#log-table tbody tr").filter({ hasText: "每日自動入檔" }).filter({ hasText: /新增 [1-9]/ })
      .first().getByRole("button").click();
    await page.locator("#log-detail-records li").first().waitFor();
    assert.match(await page.locator("#log-detail-records li").first().textContent(), /^(新增|更新|取代人事登錄|撤銷)：[A-Z][0-9A-D][0-9]{8} /);
    await page.getByRole("button", { name: "關閉" }).click();
    await page.getByRole("tab", { name: "下載" }).click();
    const to = await page.locator("#download-to").inputValue();
    const from = new Date(`${to}T00:00:00Z`);
    from.setUTCDate(from.getUTCDate() - 7);
    await page.locator("#download-from").fill(from.toISOString().slice(0, 10));
    await page.getByRole("button", { name: "查詢通過名單" }).click();
    await page.locator("#alert").filter({ hasText: "最多 7 天" }).waitFor();
    await shot("download-refused");
  });

  await flow("upload a CSV through the presigned URL and follow its import to the end", async () => {
    await page.getByRole("tab", { name: "上傳 CSV" }).click();
    await page.locator("#upload-file").setInputFiles(CSV);
    await page.getByRole("button", { name: "上傳並匯入" }).click();
    await page.locator("#upload-percent").filter({ hasText: "100%" }).waitFor();
    await page.locator("#import-state").filter({ hasText: "匯入完成" }).waitFor({ timeout: 120000 });
    assert.equal(await page.locator("#import-progress").evaluate((bar) => bar.value), 100);
    assert.match(await page.locator("#import-state").textContent(), /新增 200.*取代人事登錄 0.*拒收 1/);
    await shot("upload");
  });

  await flow("the import's detail offers its rejection report", async () => {
    await page.getByRole("tab", { name: "匯入紀錄" }).click();
    await page.locator("#log-form").getByRole("button", { name: "查詢" }).click();
    const row = page.locator("#log-table tbody tr", { hasText: "名單.csv" }).first();
    await row.locator(".badge", { hasText: "部分成功" }).waitFor();
    await row.getByRole("button").click();
    const report = page.locator("#log-report");
    await report.waitFor({ state: "visible" });
    const answer = await fetch(await report.getAttribute("href"));
    assert.equal(answer.status, 200);
    assert.match(await answer.text(), /national_id|身分證/);
    await shot("report-link");
  });

  await flow("the agency's records by passed date, with ROC dates beside ISO", async () => {
    await page.getByRole("tab", { name: "本機關紀錄" }).click();
    await page.locator("#agency-form").getByRole("button", { name: "查詢" }).click();
    const first = page.locator("#agency-table tbody tr").first();
    await first.waitFor();
    assert.match((await first.locator("td").nth(4).textContent()).trim(), /^1\d\d\/\d\d\/\d\d（\d{4}-\d\d-\d\d）$/);
    await shot("agency-records");
  });

  await flow("a year's hours by person, those short of the minimum marked, and its CSV", async () => {
    await page.getByRole("tab", { name: "學習時數" }).click();
    await page.locator("#hours-year").fill("114");
    await page.locator("#hours-form").getByRole("button", { name: "查詢" }).click();
    await page.locator("#hours-below").filter({ hasText: /114 年度共 \d+ 人，其中 \d+ 人未達 20\.0 小時/ }).waitFor();
    assert.ok(await page.locator("#hours-table tbody tr").count() > 0, "the agency's people of 2025");
    await shot("hours");
    const [file] = await Promise.all([page.waitForEvent("download"), page.locator("#hours-csv").click()]);
    const text = readFileSync(await file.path()).toString("utf8");
    assert.match(text, /^\uFEFF身分證字號,姓名,紀錄筆數,數位時數,實體時數,認證時數,未達時數/);
  });

  await flow("a person's records: locked ones marked with the reason, staff ones created, edited and deleted", async () => {
    const { records } = await (await fetch(`${BASE}/v1/people/search`, {
      method: "POST",
      headers: { Authorization: `Bearer ${STAFF_TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ id_no: person }),
    })).json();
    const portal = records.find((r) => r.locked);
    assert.ok(portal, "the downloaded person has a locked record");

    await page.getByRole("tab", { name: "個人紀錄" }).click();
    await page.locator("#records-id").fill(person);
    await page.locator("#records-form").getByRole("button", { name: "查詢" }).click();
    await page.locator("#records-table .locked").first().waitFor();
    assert.match(await page.locator("#records-table .locked").first().textContent(), /鎖定：.*入口網/);
    await shot("records");

    // A record staff type in by hand, through the page's form.
    await page.getByRole("button", { name: "新增人事登錄紀錄" }).click();
    await page.locator("#create-name").fill(portal.name);
    await page.locator("#create-org-name").fill(portal.org_name);
    await page.locator("#create-course-code").fill("LOCAL-WEB-1");
    await page.locator("#create-course-name").fill(portal.course_name);
    await page.locator("#create-start").fill(portal.start_date);
    await page.locator("#create-end").fill(portal.end_date);
    await page.locator("#create-mode").selectOption("2");
    await page.locator("#create-physical").fill("3");
    await page.locator("#create-passed").fill(portal.passed_date);
    await shot("record-create");
    await page.locator("#create-form").getByRole("button", { name: "儲存" }).click();
    await page.locator("#status").filter({ hasText: "已新增" }).waitFor();

    const mine = page.locator("#records-table tbody tr", { hasText: "LOCAL-WEB-1" });
    await mine.getByRole("button", { name: /修改/ }).click();
    await page.locator("#edit-digital").fill("0");
    await page.locator("#edit-physical").fill("5.5");
    await shot("record-edit");
    await page.locator("#edit-form").getByRole("button", { name: "儲存" }).click();
    await page.locator("#status").filter({ hasText: "已儲存" }).waitFor();
    assert.equal((await mine.locator("td").nth(3).textContent()).trim(), "5.5");

    page.once("dialog", (dialog) => dialog.accept());
    await mine.getByRole("button", { name: /刪除/ }).click();
    await page.locator("#status").filter({ hasText: "已刪除" }).waitFor();
    assert.equal(await mine.count(), 0);
  });

  await flow("keyboard: the tabs move with the arrow keys; labels are there for screen readers", async () => {
    await page.getByRole("tab", { name: "匯入紀錄" }).focus();
    await page.keyboard.press("Enter");
    await page.keyboard.press("ArrowRight");
    assert.equal(await page.getByRole("tab", { name: "下載" }).getAttribute("aria-selected"), "true");
    await page.keyboard.press("End");
    assert.equal(await page.getByRole("tab", { name: "個人紀錄" }).getAttribute("aria-selected"), "true");
    const unlabelled = await page.locator("input, select, textarea").evaluateAll((fields) =>
      fields.filter((f) => !f.labels?.length && !f.getAttribute("aria-label")).map((f) => f.id));
    assert.deepEqual(unlabelled, []);
  });

  await flow("a narrow screen (375 px) shows every section without a page-wide scroll", async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    for (const tab of ["匯入紀錄", "下載", "上傳 CSV", "本機關紀錄", "學習時數", "個人紀錄"]) {
      await page.getByRole("tab", { name: tab }).click();
      const wide = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
      assert.equal(wide, false, `${tab} scrolls sideways`);
    }
    await page.getByRole("tab", { name: "匯入紀錄" }).click();
    await shot("narrow");
  });

  await flow("each tab's 說明 opens the staff guide at its section, the refusal codes in a table", async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.getByRole("tab", { name: "上傳 CSV" }).click();
    const [guide] = await Promise.all([
      context.waitForEvent("page"),
      page.locator("#panel-upload").getByRole("link", { name: "說明" }).click(),
    ]);
    await guide.getByRole("heading", { name: "三、上傳 CSV：早期的紀錄" }).waitFor();
    assert.ok(guide.url().endsWith("/web/help.html#upload"), guide.url());
    assert.ok(await guide.locator("#upload").count() === 1);
    const codes = await guide.locator("table code").allTextContents();
    for (const code of ["after_cutoff", "record_held", "file_is_zip", "record_locked"]) {
      assert.ok(codes.includes(code), `${code} in the guide's tables`);
    }
    await guide.screenshot({ path: join(OUT, `${String(++step).padStart(2, "0")}-guide.png`) });
    await guide.close();
  });

  assert.deepEqual(problems, []);
  console.log(`WEB | ${passed.length} flows passed in Chromium | ${step} screenshots in ${OUT}`);
} catch (error) {
  await shot("failure").catch(() => {});
  console.error(error);
  console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
