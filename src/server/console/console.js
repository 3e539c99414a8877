// sluice console: polls /_sluice/console/api/* and renders what it gets, with the DOM
// (textContent only: no value from a table or stream is ever parsed as HTML). With
// auth.enforce on, each call is SigV4-signed here with a key the user gives (Web Crypto).
"use strict";

const API = "/_sluice/console/api/";
const POLL_MS = 1000;
const view = { table: null, itemStart: null, itemNext: null, stream: null };

// ---- SigV4 (only when the user signed in) -------------------------------------------

function credentials() {
  const raw = sessionStorage.getItem("sluice-console-key");
  return raw ? JSON.parse(raw) : null;
}

const utf8 = (s) => new TextEncoder().encode(s);
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
async function sha256(s) { return hex(await crypto.subtle.digest("SHA-256", utf8(s))); }
async function hmac(key, s) {
  const k = await crypto.subtle.importKey("raw", typeof key === "string" ? utf8(key) : key,
    { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", k, utf8(s));
}
// RFC 3986 as SigV4 encodes: unreserved characters kept, every other byte %XX.
const rfc3986 = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

function queryString(params) {
  return Object.keys(params).filter((k) => params[k] !== null && params[k] !== undefined).sort()
    .map((k) => rfc3986(k) + "=" + rfc3986(String(params[k]))).join("&");
}

async function signedHeaders(path, query) {
  const key = credentials();
  if (!key) return {};
  const date = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const day = date.slice(0, 8);
  const scope = `${day}/${key.region}/sluice/aws4_request`;
  const canonical = ["GET", path, query, `host:${location.host}`, `x-amz-date:${date}`, "",
    "host;x-amz-date", await sha256("")].join("\n");
  const toSign = ["AWS4-HMAC-SHA256", date, scope, await sha256(canonical)].join("\n");
  let k = await hmac("AWS4" + key.secret, day);
  for (const part of [key.region, "sluice", "aws4_request"]) k = await hmac(k, part);
  const signature = hex(await hmac(k, toSign));
  return {
    "X-Amz-Date": date,
    Authorization: `AWS4-HMAC-SHA256 Credential=${key.id}/${scope}, SignedHeaders=host;x-amz-date, Signature=${signature}`,
  };
}

// A console call: the JSON answer, or an Error whose `status` says why.
async function call(name, params = {}) {
  const path = API + name;
  const query = queryString(params);
  const response = await fetch(query ? `${path}?${query}` : path, {
    headers: await signedHeaders(path, query),
    cache: "no-store",
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.message || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

// ---- rendering ----------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "onclick") node.addEventListener("click", v);
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function fill(tbody, rows, empty, columns) {
  tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: columns, class: "muted" }, empty))]));
}

function bytes(n) {
  if (n === undefined || n === null) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

function lag(seconds) {
  const s = Number(seconds || 0);
  const text = s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(1)} s`;
  return el("span", { class: s < 1 ? "ok" : s < 60 ? "warn" : "bad" }, text);
}

function status(text) {
  const good = ["ACTIVE", "Enabled", "ENABLED", "OK"].includes(text);
  return el("span", { class: good ? "ok" : "warn" }, text || "");
}

function renderTables(data) {
  document.getElementById("table-count").textContent =
    data.table_count > data.tables.length ? `(${data.tables.length} of ${data.table_count})` : `(${data.table_count})`;
  const rows = data.tables.map((t) => el("tr", { "data-table": t.name },
    el("td", {}, el("a", { class: "open", onclick: () => openItems(t.name) }, t.name)),
    el("td", {}, status(t.status)),
    el("td", { class: "num" }, t.items),
    el("td", { class: "num" }, bytes(t.size_bytes)),
    el("td", {}, t.stream ? t.stream.view_type : el("span", { class: "muted" }, "none")),
    el("td", {}, t.stream ? lag(t.stream.iterator_age_seconds) : ""),
    el("td", {}, el("ul", { class: "plain" }, t.destinations.map((d) =>
      el("li", {}, d.stream_arn.split("/").pop(), " ", status(d.status), " lag ", lag(d.lag_seconds))))),
  ));
  fill(document.querySelector("#tables tbody"), rows, "no tables yet", 7);
}

function renderStreams(data) {
  document.getElementById("stream-count").textContent = `(${data.stream_count})`;
  const rows = data.streams.map((s) => el("tr", { "data-stream": s.name },
    el("td", {}, el("a", { class: "open", onclick: () => openRecords(s.name) }, s.name)),
    el("td", {}, status(s.status)),
    el("td", {}, s.mode),
    el("td", { class: "num" }, `${s.retention_hours} h`),
    el("td", { class: "num" }, s.retained_records),
    el("td", {}, el("ul", { class: "plain" }, s.shards.map((sh) =>
      el("li", {}, sh.id, " ", sh.open ? "" : el("span", { class: "muted" }, "closed"), " ",
        el("span", { class: "muted" }, `${sh.records} records`))))),
    el("td", {}, lag(s.iterator_age_seconds)),
    el("td", {}, el("ul", { class: "plain" }, s.consumers.map((c) =>
      el("li", { "data-consumer": c.name }, c.name, " ", status(c.status), " behind ", lag(c.behind_latest_seconds))))),
  ));
  fill(document.querySelector("#streams tbody"), rows, "no Kinesis streams yet", 8);
}

function renderMappings(data) {
  const rows = data.mappings.map((m) => el("tr", { "data-mapping": m.uuid },
    el("td", {}, el("code", {}, m.uuid)),
    el("td", {}, m.function),
    el("td", {}, el("code", {}, m.source_arn)),
    el("td", {}, status(m.state)),
    el("td", {}, m.last_result),
    el("td", { class: "num" }, m.batch_size),
    el("td", {}, lag(m.iterator_age_seconds)),
  ));
  fill(document.querySelector("#mappings tbody"), rows, "no event source mappings yet", 7);
}

// ---- the item browser and the newest records --------------------------------------------

async function openItems(table, start = null) {
  view.table = table;
  view.itemStart = start;
  document.getElementById("items").hidden = false;
  document.getElementById("items-table").textContent = table;
  await showItems();
}

async function showItems() {
  if (!view.table) return;
  const params = { table: view.table };
  if (view.itemStart) params.start = JSON.stringify(view.itemStart);
  const page = await call("items", params);
  view.itemNext = page.next || null;
  document.getElementById("items-next").disabled = !view.itemNext;
  const rows = (page.items || []).map((item) =>
    el("tr", {}, el("td", { class: "json" }, JSON.stringify(item))));
  fill(document.querySelector("#item-rows tbody"), rows, "no items", 1);
}

async function openRecords(stream) {
  view.stream = stream;
  document.getElementById("records").hidden = false;
  document.getElementById("records-stream").textContent = stream;
  await showRecords();
}

async function showRecords() {
  if (!view.stream) return;
  const page = await call("records", { stream: view.stream });
  const rows = page.records.map((r) => el("tr", {},
    el("td", {}, new Date(r.arrival_ms).toISOString().replace("T", " ").replace("Z", "")),
    el("td", {}, r.shard),
    el("td", { class: "num", title: r.sequence_number }, r.sequence),
    el("td", {}, r.partition_key),
    el("td", { class: "json" }, r.json !== null ? JSON.stringify(r.json) : `base64 ${r.base64}`,
      r.truncated ? el("span", { class: "muted" }, " (first 4 KiB)") : null),
  ));
  fill(document.querySelector("#record-rows tbody"), rows, "no records yet", 5);
}

// ---- the loop -----------------------------------------------------------------------

function say(text, cls) {
  const node = document.getElementById("status");
  node.textContent = text;
  node.className = cls;
}

async function refresh() {
  try {
    const data = await call("overview");
    document.getElementById("where").textContent = `${data.region} · account ${data.account}`;
    renderTables(data);
    renderStreams(data);
    renderMappings(data);
    if (view.stream) await showRecords();
    document.getElementById("login").hidden = true;
    say(`live · updated ${new Date().toLocaleTimeString()}`, "muted");
  } catch (error) {
    if (error.status === 403) {
      document.getElementById("login").hidden = false;
      say(`refused: ${error.message}`, "bad");
    } else {
      say(`cannot reach sluice: ${error.message}`, "bad");
    }
  }
}

function start() {
  // A key may come in the address's fragment (#access_key=...&secret_key=...&region=...)
  // for scripted use; it is moved to session storage and the fragment cleared.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("access_key") && fragment.get("secret_key")) {
    sessionStorage.setItem("sluice-console-key", JSON.stringify({
      id: fragment.get("access_key"), secret: fragment.get("secret_key"),
      region: fragment.get("region") || "us-east-1",
    }));
    history.replaceState(null, "", location.pathname + location.search);
  }
  document.getElementById("login").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem("sluice-console-key", JSON.stringify({
      id: document.getElementById("access-key").value.trim(),
      secret: document.getElementById("secret-key").value,
      region: document.getElementById("region").value.trim(),
    }));
    refresh();
  });
  document.getElementById("items-first").addEventListener("click", () => openItems(view.table));
  document.getElementById("items-next").addEventListener("click", () => view.itemNext && openItems(view.table, view.itemNext));
  document.getElementById("items-close").addEventListener("click", () => { view.table = null; document.getElementById("items").hidden = true; });
  document.getElementById("records-close").addEventListener("click", () => { view.stream = null; document.getElementById("records").hidden = true; });
  // ?table=NAME / ?stream=NAME open those views at once (links, screenshots).
  const query = new URLSearchParams(location.search);
  if (query.get("table")) openItems(query.get("table")).catch(() => {});
  if (query.get("stream")) openRecords(query.get("stream")).catch(() => {});
  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, POLL_MS);
}

start();
