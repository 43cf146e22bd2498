// The admin console in headless Chromium (Debian's, driven by playwright-core), against a running
// auth-core seeded by seed.mjs. Every step asserts what a person would see and saves a full-page
// screenshot to $ARTIFACTS/NN-name.png; the first failure names its step and exits 1. Any dialog,
// console error, page error or Content-Security-Policy violation fails the step it happens in.
//
// usage: ADMIN_EMAIL=… ADMIN_PASSWORD=… node console.mjs http://127.0.0.1:PORT
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const base = process.argv[2];
if (!base) {
  console.error("usage: node console.mjs <base-url>");
  process.exit(2);
}
const email = process.env.ADMIN_EMAIL ?? "admin@example.com";
const password = process.env.ADMIN_PASSWORD;
if (!password) {
  console.error("ADMIN_PASSWORD is not set");
  process.exit(2);
}
const artifacts = process.env.ARTIFACTS ?? path.resolve(here, "../artifacts/browser");
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const timeout = Number(process.env.STEP_TIMEOUT_MS ?? 10000);

fs.rmSync(artifacts, { recursive: true, force: true });
fs.mkdirSync(artifacts, { recursive: true });

class StepFailure extends Error {}
function assert(condition, message) {
  if (!condition) throw new StepFailure(message);
}
function pathOf(url) {
  const u = new URL(url);
  return u.pathname + u.search;
}

// Problems the page reports on its own: collected continuously, checked at the end of every step.
const problems = [];
// The browser's own request for /favicon.ico (no page asks for it) is reported once, not failed.
const warnings = new Set();
const isFavicon = (url) => url && new URL(url).pathname === "/favicon.ico";

const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
context.setDefaultTimeout(timeout);
context.setDefaultNavigationTimeout(timeout);
// Chromium logs CSP violations to the console as errors; the event catches any it might not.
await context.addInitScript(() => {
  document.addEventListener("securitypolicyviolation", (e) => {
    console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`);
  });
});
const page = await context.newPage();
page.on("dialog", async (dialog) => {
  problems.push(`a ${dialog.type()} dialog opened: ${JSON.stringify(dialog.message())}`);
  await dialog.dismiss().catch(() => {});
});
page.on("console", (msg) => {
  if (msg.type() === "error" || msg.type() === "assert" || /content security policy|refused to/i.test(msg.text())) {
    const where = msg.location()?.url ? ` at ${msg.location().url}` : "";
    if (isFavicon(msg.location()?.url)) return void warnings.add(`console ${msg.type()}: ${msg.text()}${where}`);
    problems.push(`console ${msg.type()}: ${msg.text()}${where}`);
  }
});
page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
page.on("requestfailed", (request) => {
  // A navigation replaced by the next one (e.g. a download) is not a failure of the page.
  const failure = request.failure()?.errorText ?? "";
  if (!/ERR_ABORTED/.test(failure)) problems.push(`request failed: ${request.method()} ${request.url()} ${failure}`);
});
page.on("response", (response) => {
  const request = response.request();
  if (response.status() >= 400 && request.resourceType() !== "document" && !isFavicon(response.url())) {
    problems.push(`${request.resourceType()} ${request.method()} ${response.url()} answered ${response.status()}`);
  }
});

let number = 0;
const passed = [];
async function step(name, body) {
  number += 1;
  const label = `${String(number).padStart(2, "0")}-${name}`;
  const before = problems.length;
  try {
    await body();
    const fresh = problems.slice(before);
    assert(fresh.length === 0, `the page reported problems:\n  ${fresh.join("\n  ")}`);
    await page.screenshot({ path: path.join(artifacts, `${label}.png`), fullPage: true });
    passed.push(label);
    console.log(`ok   ${label}  (${pathOf(page.url())})`);
  } catch (error) {
    await page.screenshot({ path: path.join(artifacts, `${label}-FAILED.png`), fullPage: true }).catch(() => {});
    fs.writeFileSync(path.join(artifacts, `${label}-FAILED.html`), await page.content().catch(() => ""));
    console.error(`FAIL ${label}  (at ${pathOf(page.url())})`);
    console.error(`     ${error instanceof StepFailure ? error.message : error.stack ?? error}`);
    const shown = await page
      .locator("main")
      .first()
      .innerText({ timeout: 1000 })
      .catch(() => "");
    if (shown) console.error(`     the page shows: ${JSON.stringify(shown.replace(/\s+/g, " ").trim().slice(0, 300))}`);
    for (const warning of warnings) console.error(`warning (not failed): ${warning}`);
    console.error(`\nbrowser test: ${passed.length} passed, 1 failed (step ${label})`);
    await browser.close().catch(() => {});
    process.exit(1);
  }
}

const nav = () => page.getByRole("navigation", { name: "Console" });
async function clickNav(name, expectedPath) {
  const link = nav().getByRole("link", { name, exact: true });
  assert((await link.count()) === 1, `the navigation has no link named "${name}"`);
  await Promise.all([page.waitForURL((u) => u.pathname === expectedPath), link.click()]);
}
async function expectHeading(name) {
  const heading = page.getByRole("heading", { level: 1 });
  assert((await heading.count()) >= 1, "the page has no h1");
  const text = (await heading.first().textContent()).trim();
  assert(text.includes(name), `expected an h1 with "${name}", found "${text}"`);
  return text;
}
async function exists(selector, what) {
  assert((await page.locator(selector).count()) > 0, `${what} (${selector}) is not on ${pathOf(page.url())}`);
}
async function bodyRows() {
  return page.locator("table tbody tr");
}
async function apiStatus(secret) {
  const res = await fetch(`${base}/api/orgs/current`, { headers: { authorization: `Bearer ${secret}` } });
  const text = await res.text();
  let code = null;
  try {
    code = JSON.parse(text).code ?? JSON.parse(text).error?.code ?? null;
  } catch {
    // not JSON
  }
  return { status: res.status, code, text };
}
// RFC 4180 parsing: quoted fields may hold commas, quotes and line breaks.
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

// ---- sign-in ----

await step("login-redirect", async () => {
  await page.goto(`${base}/admin`);
  assert(new URL(page.url()).pathname === "/admin/login", `/admin did not redirect to /admin/login but to ${page.url()}`);
  await exists("#email", "the email input");
  await exists("#password", "the password input");
});

await step("dashboard", async () => {
  await page.fill("#email", email);
  await page.fill("#password", password);
  const button = page.getByRole("button", { name: "Sign in" });
  assert((await button.count()) === 1, 'there is no button named "Sign in"');
  const [response] = await Promise.all([page.waitForNavigation(), button.click()]);
  assert(
    /^\/admin\/?$/.test(new URL(page.url()).pathname),
    `signing in did not reach the dashboard: POST /admin/login ended at ${pathOf(page.url())} with HTTP ${response?.status()}`,
  );
  await expectHeading("Dashboard");
  for (const name of ["Dashboard", "Users", "Organizations", "Memberships", "Audit trail", "Webhooks", "API keys", "Administrators"]) {
    assert((await nav().getByRole("link", { name, exact: true }).count()) === 1, `the navigation has no link "${name}"`);
  }
  assert((await page.getByRole("button", { name: "Sign out" }).count()) === 1, 'there is no "Sign out" button');
});

// ---- users ----

let adaHref = null;
await step("users", async () => {
  await clickNav("Users", "/admin/users");
  for (const [selector, what] of [["#q", "the search input"], ["#status", "the status select"], ["#sort", "the sort select"]]) {
    await exists(selector, what);
  }
  assert((await page.getByRole("button", { name: "Search" }).count()) === 1, 'there is no button named "Search"');
});

await step("users-search-ada", async () => {
  await page.fill("#q", "ada");
  await Promise.all([
    page.waitForURL((u) => u.pathname === "/admin/users" && u.searchParams.get("q") === "ada"),
    page.getByRole("button", { name: "Search" }).click(),
  ]);
  const rows = (await bodyRows()).filter({ hasText: "Ada Lovelace" });
  assert((await rows.count()) === 1, `expected one row with "Ada Lovelace" for q=ada, found ${await rows.count()}`);
  const link = rows.locator('a[href^="/admin/users/"]');
  assert((await link.count()) >= 1, "Ada's row has no link to /admin/users/{id}");
  adaHref = await link.first().getAttribute("href");
  const others = await (await bodyRows()).allTextContents();
  assert(others.every((t) => /ada/i.test(t)), `a row that does not match "ada" is shown: ${JSON.stringify(others)}`);
});

await step("user-ada", async () => {
  const link = (await bodyRows()).filter({ hasText: "Ada Lovelace" }).locator('a[href^="/admin/users/"]').first();
  await Promise.all([page.waitForURL((u) => u.pathname === adaHref.split("?")[0]), link.click()]);
  await expectHeading("Ada Lovelace");
  for (const name of ["Profile", "Memberships", "Recent audit events"]) {
    const heading = page.getByRole("heading", { name, exact: true });
    assert((await heading.count()) >= 1, `the user page has no section heading "${name}"`);
  }
  const memberships = page.locator("section").filter({ has: page.getByRole("heading", { name: "Memberships", exact: true }) });
  const scope = (await memberships.count()) > 0 ? memberships.last() : page.locator("main");
  const text = await scope.textContent();
  assert(text.includes("Analytical Engines"), `the Memberships section does not list "Analytical Engines": ${JSON.stringify(text.trim().slice(0, 300))}`);
  if (!text.includes("org:admin")) console.log("     note: the Memberships section does not show the role org:admin");
});

await step("users-search-markup", async () => {
  await clickNav("Users", "/admin/users");
  await page.fill("#q", "script");
  await Promise.all([
    page.waitForURL((u) => u.pathname === "/admin/users" && u.searchParams.get("q") === "script"),
    page.getByRole("button", { name: "Search" }).click(),
  ]);
  const rows = await (await bodyRows()).allTextContents();
  const literal = "<script>alert(1)</script>";
  assert(rows.some((t) => t.includes(literal)), `no row shows the literal text ${literal}: ${JSON.stringify(rows)}`);
  const injected = await page.locator("main script").count();
  assert(injected === 0, `the page has ${injected} <script> element(s) inside main: the name was not escaped`);
});

await step("user-markup", async () => {
  const link = (await bodyRows()).filter({ hasText: "<script>" }).locator('a[href^="/admin/users/"]').first();
  await Promise.all([page.waitForURL((u) => u.pathname.startsWith("/admin/users/")), link.click()]);
  const h1 = await expectHeading("<script>alert(1)</script>");
  assert(h1.includes("Markup"), `the h1 is "${h1}"`);
  assert((await page.locator("main script").count()) === 0, "a <script> element was injected into the user page");
});

// ---- audit trail ----

let filteredRows = 0;
await step("audit", async () => {
  await clickNav("Audit trail", "/admin/audit");
  for (const id of ["from", "to", "user", "org", "principal", "status", "path", "reason"]) {
    await exists(`#${id}`, `the filter field #${id}`);
  }
  for (const id of ["from", "to"]) {
    const type = await page.locator(`#${id}`).getAttribute("type");
    assert(type === "datetime-local", `#${id} is of type ${type}, not datetime-local`);
  }
  const principals = await page.locator("#principal option").evaluateAll((os) => os.map((o) => o.value));
  for (const value of ["user", "service_key", "machine_token", "admin", "anonymous"]) {
    assert(principals.includes(value), `#principal has no option "${value}" (has ${JSON.stringify(principals)})`);
  }
  assert((await page.getByRole("button", { name: "Filter" }).count()) === 1, 'there is no button named "Filter"');
  assert((await page.getByRole("link", { name: "Export CSV" }).count()) === 1, 'there is no link named "Export CSV"');
});

await step("audit-filtered", async () => {
  await page.fill("#path", "/admin/login");
  await Promise.all([
    page.waitForURL((u) => u.pathname === "/admin/audit" && u.searchParams.get("path") === "/admin/login"),
    page.getByRole("button", { name: "Filter" }).click(),
  ]);
  assert((await page.locator("#path").inputValue()) === "/admin/login", "the filter form does not keep the path it filtered by");
  const rows = await (await bodyRows()).allTextContents();
  // GET /admin/login (the redirect's target) and POST /admin/login (the sign-in) at least.
  assert(rows.length >= 2, `expected at least the two sign-in requests for path /admin/login, found ${rows.length} rows`);
  const stray = rows.filter((t) => !t.includes("/admin/login"));
  assert(stray.length === 0, `rows not matching path=/admin/login: ${JSON.stringify(stray.map((t) => t.replace(/\s+/g, " ").trim()))}`);
  filteredRows = rows.length;
  const href = await page.getByRole("link", { name: "Export CSV" }).getAttribute("href");
  const csvUrl = new URL(href, page.url());
  assert(csvUrl.pathname === "/admin/audit.csv", `"Export CSV" points to ${href}, not /admin/audit.csv`);
  assert(csvUrl.searchParams.get("path") === "/admin/login", `"Export CSV" does not carry the filter: ${href}`);
});

await step("audit-csv", async () => {
  const onePage = (await page.getByRole("link", { name: "Older" }).count()) === 0;
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Export CSV" }).click()]);
  const file = path.join(artifacts, download.suggestedFilename() || "audit.csv");
  await download.saveAs(file);
  assert(download.suggestedFilename().endsWith(".csv"), `the download is named "${download.suggestedFilename()}"`);
  const text = fs.readFileSync(file, "utf8");
  const rows = parseCsv(text.replace(/^\uFEFF/, "")).filter((r) => !(r.length === 1 && r[0] === ""));
  assert(rows.length >= 1, "the CSV is empty");
  const expectedHeader =
    "id,occurred_at,request_id,principal_type,user_id,organization_id,session_id,method,path,route,status,duration_us,client_ip,user_agent,reason,detail";
  assert(rows[0].join(",") === expectedHeader, `the CSV header is\n       ${rows[0].join(",")}\n     expected\n       ${expectedHeader}`);
  const header = rows[0];
  const pathColumn = header.findIndex((h) => h === "path");
  const data = rows.slice(1);
  if (pathColumn >= 0) {
    const stray = data.filter((r) => !String(r[pathColumn]).includes("/admin/login"));
    assert(stray.length === 0, `CSV rows not matching path=/admin/login: ${JSON.stringify(stray.slice(0, 3))}`);
  }
  if (onePage) {
    assert(data.length === filteredRows, `the CSV has ${data.length} rows, the filtered table ${filteredRows}`);
  }
  console.log(`     CSV header: ${rows[0].join(",")}; ${data.length} rows`);
});

// ---- API keys ----

let secret = null;
await step("keys", async () => {
  await clickNav("API keys", "/admin/keys");
  for (const [selector, what] of [["#key-name", "the key name input"], ["#key-org", "the organization input"], ["#key-scopes", "the scopes input"], ["#key-expires", "the expiry input"]]) {
    await exists(selector, what);
  }
  assert((await page.getByRole("button", { name: "Create key" }).count()) === 1, 'there is no button named "Create key"');
});

await step("key-created", async () => {
  await page.fill("#key-name", "billing-worker");
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Create key" }).click()]);
  await exists("#new-secret", "the new key's secret");
  const shown = (await page.locator("#new-secret").textContent()).trim() || (await page.locator("#new-secret").inputValue().catch(() => ""));
  assert(shown.startsWith("ack_"), `#new-secret does not start with ack_: ${JSON.stringify(shown.slice(0, 8))}…`);
  secret = shown;
  const row = (await bodyRows()).filter({ hasText: "billing-worker" });
  assert((await row.count()) === 1, `expected one row for billing-worker, found ${await row.count()}`);
  assert((await row.textContent()).includes("active"), "billing-worker's row does not say active");
  const api = await apiStatus(secret);
  assert(api.status !== 401, `the new key is refused by GET /api/orgs/current: ${api.status} ${api.text}`);
  console.log(`     GET /api/orgs/current with the new (global) key: ${api.status} ${api.code ?? ""}`);
});

await step("key-revoked", async () => {
  const row = (await bodyRows()).filter({ hasText: "billing-worker" });
  const revoke = row.getByRole("button", { name: "Revoke" });
  assert((await revoke.count()) === 1, 'billing-worker\'s row has no "Revoke" button');
  await Promise.all([page.waitForNavigation(), revoke.click()]);
  const after = (await bodyRows()).filter({ hasText: "billing-worker" });
  assert((await after.count()) === 1, `expected one row for billing-worker after revoking, found ${await after.count()}`);
  const text = await after.textContent();
  assert(/\brevoked\b/.test(text), `billing-worker's row does not say revoked: ${JSON.stringify(text.replace(/\s+/g, " ").trim())}`);
  assert((await page.locator("#new-secret").count()) === 0, "the secret is still shown after another action");
  const api = await apiStatus(secret);
  assert(api.status === 401, `the revoked key still gets ${api.status} from GET /api/orgs/current: ${api.text}`);
  console.log(`     GET /api/orgs/current with the revoked key: ${api.status} ${api.code ?? ""}`);
});

// ---- keyboard and small screens ----

await step("keyboard-skip-link", async () => {
  await page.goto(`${base}/admin`);
  await page.keyboard.press("Tab");
  const first = await page.evaluate(() => document.activeElement?.textContent?.trim());
  assert(first === "Skip to content", `the first Tab stop is ${JSON.stringify(first)}, not the skip link`);
  await page.keyboard.press("Enter");
  const focused = await page.evaluate(() => document.activeElement?.id);
  assert(focused === "main", `the skip link moved focus to ${JSON.stringify(focused)}, not #main`);
});

await step("phone-users", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/admin/users?q=ada`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(overflow <= 0, `the page is ${overflow}px wider than a 390px screen`);
  assert((await (await bodyRows()).count()) >= 1, "the search result is not shown on a small screen");
});

await step("phone-audit", async () => {
  await page.goto(`${base}/admin/audit`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(overflow <= 0, `the page is ${overflow}px wider than a 390px screen (tables must scroll inside their frame)`);
});

// ---- sign-out ----

await step("signed-out", async () => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Sign out" }).click()]);
  assert(new URL(page.url()).pathname === "/admin/login", `signing out landed on ${page.url()}`);
  await page.goto(`${base}/admin`);
  assert(new URL(page.url()).pathname === "/admin/login", `/admin after signing out is ${page.url()}, not the sign-in page`);
});

await browser.close();
for (const warning of warnings) console.log(`warning (not failed): ${warning}`);
console.log(`\nbrowser test: ${passed.length} passed, 0 failed`);
