// The translator's workbench: a review grid over /workbench/api and /v1/complete.
// Plain JavaScript, no build step. Document text is only ever put into the page as text nodes
// (textContent / createTextNode), never as HTML.
"use strict";

const TOKEN = document.querySelector('meta[name="workbench-token"]').content;
const PAGE_SIZE = 50;
const SAVE_DELAY = 500;     // ms of quiet before a typed target is kept on the server
const PREDICT_DELAY = 250;  // ms of quiet before asking the model for a continuation
const PH = /<(\/?)(\d+)(\/?)>/g;

const BLOCKING = {"length-limit": "the model's answer was cut off at the length limit",
  "repetition": "the model's answer repeated itself", "empty": "the model gave no answer"};
const RTL = new Set(["ar", "he", "iw", "fa", "ur", "ps", "yi", "dv", "ckb", "sd", "ug", "syr"]);

const state = {
  doc: null, segments: [], visible: [], page: 0, active: null, filter: "all", search: "", showTags: false,
  predictSeq: 0, ghost: "", alternatives: [], queues: new Map(), timers: new Map(), conflicts: new Map(),
  matchSeq: 0, matches: [], threshold: null, aborts: new Map(), replaceAt: null,
};

// One request of a kind at a time: a newer one aborts the one before (a stale suggestion is never waited for).
function fresh(kind) {
  const old = state.aborts.get(kind);
  if (old) old.abort();
  const controller = new AbortController();
  state.aborts.set(kind, controller);
  return controller.signal;
}

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
};

// -- talking to the server --------------------------------------------------------------------------------

class HttpError extends Error {
  constructor(status, message, data) { super(message); this.status = status; this.data = data; }
}

async function api(method, path, body, raw, signal) {
  const headers = {"X-Workbench-Token": TOKEN};
  const key = sessionStorage.getItem("bayling-cat-api-key");
  if (key) headers["X-API-Key"] = key;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  const response = await fetch(path, {method, headers, body: payload, credentials: "omit", cache: "no-store", signal});
  if (response.status === 401) {
    await askKey();
    return api(method, path, body, raw, signal);
  }
  if (raw && response.ok) return response;
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) {
    const message = data && data.error ? data.error.message : `HTTP ${response.status}`;
    throw new HttpError(response.status, message, data);
  }
  return data;
}

function askKey() {
  return new Promise((resolve) => {
    const dialog = $("key-dialog");
    $("key-form").onsubmit = () => {
      sessionStorage.setItem("bayling-cat-api-key", $("key-input").value.trim());
      resolve();
    };
    if (!dialog.open) dialog.showModal();
  });
}

function toast(message, kind) {
  const node = el("div", "toast " + (kind || ""), message);
  if (kind === "error") node.setAttribute("role", "alert");
  $("toasts").appendChild(node);
  setTimeout(() => node.remove(), kind === "error" ? 9000 : 4000);
}

function fail(err) {
  console.error(err);
  toast(err.message || String(err), "error");
}

// -- text with inline codes -------------------------------------------------------------------------------

function chip(seg, tag, closing, n, selfClosing) {
  const code = seg.codes[n] || {label: "?", literal: false};
  const text = code.literal ? code.label : `<${closing}${n}${selfClosing}>`;
  const node = el("span", "chip" + (code.literal ? " literal" : ""), text);
  node.contentEditable = "false";
  node.dir = "ltr";  // a code is isolated: it neither decides nor scrambles the direction of the text around it
  node.dataset.ph = tag;
  node.title = code.literal ? `placeholder ${tag}` : `${code.label} ${closing ? "(end)" : selfClosing ? "" : "(start)"}`;
  return node;
}

// Append ``text`` (with placeholders) to ``parent``; ``marks`` are [start, end, className, title] ranges.
function renderText(parent, seg, text, marks) {
  parent.textContent = "";
  if (text === null || text === undefined) return;
  marks = (marks || []).slice().sort((a, b) => a[0] - b[0]);
  const cuts = [];
  let pos = 0;
  PH.lastIndex = 0;
  let m;
  while ((m = PH.exec(text)) !== null) {
    cuts.push([pos, m.index, null]);
    cuts.push([m.index, m.index + m[0].length, m]);
    pos = m.index + m[0].length;
  }
  cuts.push([pos, text.length, null]);
  for (const [start, end, match] of cuts) {
    if (match) { parent.appendChild(chip(seg, match[0], match[1], match[2], match[3])); continue; }
    let at = start;
    for (const [ms, me, cls, title] of marks) {
      if (me <= at || ms >= end) continue;
      const s = Math.max(ms, at), e = Math.min(me, end);
      if (s > at) parent.appendChild(document.createTextNode(text.slice(at, s)));
      const mark = el("mark", cls, text.slice(s, e));
      if (title) mark.title = title;
      parent.appendChild(mark);
      at = e;
    }
    if (end > at) parent.appendChild(document.createTextNode(text.slice(at, end)));
  }
}

// The editor's content back as text with placeholders (the prediction is not part of it).
function serialize(node) {
  let out = "";
  for (const child of node.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) out += child.nodeValue;
    else if (child.nodeType !== Node.ELEMENT_NODE) continue;
    else if (child.classList.contains("ghost")) continue;
    else if (child.dataset.ph) out += child.dataset.ph;
    else if (child.tagName === "BR") out += "\n";
    else {
      if (child.tagName === "DIV" && out && !out.endsWith("\n")) out += "\n";
      out += serialize(child);
    }
  }
  return out.replace(/\u00a0/g, " ");
}

function plainText(text) { return (text || "").replace(PH, " "); }

// -- the grid ---------------------------------------------------------------------------------------------

const STATUS_WORDS = {new: "new", review: "machine / needs review", draft: "edited", confirmed: "confirmed",
  locked: "locked"};
const FILTERS = {
  all: () => true,
  untranslated: (s) => s.status === "new",
  machine: (s) => s.status === "review" && s.machine,
  fuzzy: (s) => s.status === "review" && !s.machine,
  draft: (s) => s.status === "draft",
  flagged: (s) => s.flags.length || s.code_problems || Object.keys(s.checks || {}).length || tooLong(s),
  terms: (s) => (s.violations || []).length > 0,
  long: (s) => tooLong(s),
  comments: (s) => !!s.comment,
  confirmed: (s) => s.status === "confirmed",
  locked: (s) => s.status === "locked",
};

function primary(lang) { return (lang || "").split(/[-_]/)[0].toLowerCase(); }

// The characters a length limit counts: a literal code (%s) as its text, a markup code as nothing.
function textLength(seg, text) {
  return (text || "").replace(PH, (m, c, n) => (seg.codes[n] && seg.codes[n].literal) ? seg.codes[n].label : "").length;
}

function tooLong(seg) { return seg.max_length != null && textLength(seg, seg.target) > seg.max_length; }

function searchHit(seg) {
  if (!state.search) return true;
  return (plainText(seg.source) + "\n" + plainText(seg.target)).toLowerCase().includes(state.search);
}

function matches(seg) {
  if (seg.tag_only && !state.showTags) return false;  // codes, numbers, punctuation alone: nothing to translate
  return !!(FILTERS[state.filter] || FILTERS.all)(seg) && searchHit(seg);
}

function applyFilter(keepPage) {
  state.visible = state.segments.filter(matches);
  const pages = Math.max(1, Math.ceil(state.visible.length / PAGE_SIZE));
  if (!keepPage) state.page = 0;
  state.page = Math.max(0, Math.min(state.page, pages - 1));
  $("count").textContent = `${state.visible.length} of ${state.segments.length} segments`;
  $("page-text").textContent = `page ${state.page + 1} / ${pages}`;
  $("prev-page").disabled = state.page === 0;
  $("next-page").disabled = state.page >= pages - 1;
  renderRows();
  refreshCounts();
  remember();
}

// Segment counts per status, in the filter's options and the status line.
function refreshCounts() {
  const counts = {};
  for (const s of state.segments) {
    if (s.tag_only && !state.showTags) continue;
    for (const [name, test] of Object.entries(FILTERS)) if (test(s)) counts[name] = (counts[name] || 0) + 1;
  }
  for (const option of $("filter").options) {
    const label = option.dataset.label || (option.dataset.label = option.textContent);
    option.textContent = `${label} (${counts[option.value] || 0})`;
  }
  const line = $("counts");
  line.textContent = "";
  for (const [name, word] of [["untranslated", "new"], ["machine", "machine"], ["fuzzy", "fuzzy / needs review"],
    ["draft", "edited"], ["confirmed", "confirmed"], ["locked", "locked"]]) {
    const item = el("span", "count-" + name, `${word} ${counts[name] || 0}`);
    line.appendChild(item);
  }
  const hidden = state.segments.filter((s) => s.tag_only).length;
  $("tags-label").textContent = `rows without words (${hidden})`;
}

function renderRows() {
  const body = $("rows");
  body.textContent = "";
  const start = state.page * PAGE_SIZE;
  let file = null;
  for (const seg of state.visible.slice(start, start + PAGE_SIZE)) {
    if (state.doc.files > 1 && seg.file !== file) {  // where one file of a multi-file XLIFF begins
      file = seg.file;
      const tr = el("tr", "file-row");
      const th = el("th", null, `File: ${file}`);
      th.colSpan = 4;
      th.scope = "rowgroup";
      th.dir = "auto";
      tr.appendChild(th);
      body.appendChild(tr);
    }
    body.appendChild(row(seg));
  }
}

// Where ``needle`` occurs in ``text`` (any case), outside the inline codes.
function hits(text, needle) {
  const out = [];
  if (!needle || !text) return out;
  const hay = text.toLowerCase();
  for (let at = hay.indexOf(needle); at >= 0; at = hay.indexOf(needle, at + needle.length)) {
    out.push([at, at + needle.length, "hit", null]);
  }
  return out;
}

function sourceMarks(seg) {
  const missing = new Set(seg.missing || []);
  return (seg.terms || []).map((t) => [t.start, t.end, missing.has(t.source) ? "term term-missing" : "term",
    t.dnt ? `${t.source}: do not translate` : `${t.source} → ${t.targets.join(" / ") || "—"}` +
      (t.forbidden.length ? ` (not: ${t.forbidden.join(", ")})` : "")]).concat(hits(seg.source, state.search));
}

function targetMarks(seg) {
  const marks = [];
  for (const f of seg.forbidden || []) for (const [s, e] of f.spans) marks.push([s, e, "term-bad", `do not use '${f.form}'`]);
  return marks.concat(hits(seg.target, state.search));
}

function targetDir() { return RTL.has(primary(state.doc.target_lang)) ? "rtl" : "auto"; }

function row(seg) {
  const tr = el("tr", "seg");
  tr.id = "seg-" + seg.i;
  tr.dataset.i = seg.i;
  const num = el("td", "num", String(seg.i + 1));
  tr.appendChild(num);
  const src = el("td", "source");
  src.id = `src-${seg.i}`;
  src.lang = state.doc.source_lang;
  src.dir = "auto";
  renderText(src, seg, seg.source, sourceMarks(seg));
  src.addEventListener("click", (ev) => {
    const c = ev.target.closest(".chip");
    if (c && state.active === seg.i) insertCode(seg, c.dataset.ph);
  });
  tr.appendChild(src);
  const td = el("td", "target");
  const editor = el("div", "editor");
  editor.spellcheck = true;
  editor.lang = state.doc.target_lang;
  editor.dir = targetDir();
  editor.setAttribute("role", "textbox");
  editor.setAttribute("aria-multiline", "true");
  editor.setAttribute("aria-label", `Translation of segment ${seg.i + 1}`);
  editor.setAttribute("aria-describedby", `src-${seg.i}`);
  if (!seg.readonly) {
    editor.contentEditable = "true";
    editor.addEventListener("focus", () => activate(seg.i));
    editor.addEventListener("input", () => onInput(seg, editor));
    editor.addEventListener("keydown", (ev) => onEditorKey(ev, seg, editor));
    editor.addEventListener("blur", () => { clearGhost(editor); });
    editor.addEventListener("paste", (ev) => {  // plain text only: no markup from the clipboard
      ev.preventDefault();
      const text = (ev.clipboardData || window.clipboardData).getData("text/plain");
      document.execCommand("insertText", false, text);
    });
  } else {
    editor.setAttribute("aria-readonly", "true");
    editor.tabIndex = 0;
    editor.addEventListener("focus", () => activate(seg.i));
  }
  renderText(editor, seg, seg.target, targetMarks(seg));
  td.appendChild(editor);
  if (seg.max_length != null) td.appendChild(el("div", "counter"));
  tr.appendChild(td);
  const st = el("td", "st");
  tr.appendChild(st);
  decorate(tr, seg);
  tr.addEventListener("click", () => { if (state.active !== seg.i) editor.focus(); });
  return tr;
}

// The live length counter under a target with a length limit ("12 / 40").
function showCounter(tr, seg, text) {
  const counter = tr && tr.querySelector(".counter");
  if (!counter) return;
  const n = textLength(seg, text);
  counter.textContent = `${n} / ${seg.max_length}`;
  counter.classList.toggle("over", n > seg.max_length);
  counter.title = n > seg.max_length ? `${n - seg.max_length} characters over the limit` : "characters / the file's limit";
}

function failure(seg) {
  const f = seg.flags.find((x) => BLOCKING[x]);
  return f ? `machine translation failed: ${BLOCKING[f]} (${f}); nothing was put in the target` : null;
}

// Row classes and the state cell, from the segment's current data (without touching the editor).
function decorate(tr, seg) {
  tr.className = "seg status-" + seg.status;
  if (seg.readonly) tr.classList.add("readonly");
  if ((seg.violations || []).length) tr.classList.add("term-problem");
  if (seg.code_problems) tr.classList.add("code-problem");
  if (seg.flags.length) tr.classList.add("flagged");
  if (state.conflicts.has(seg.i)) tr.classList.add("conflict");
  if (state.active === seg.i) { tr.classList.add("active"); tr.setAttribute("aria-current", "true"); }
  else tr.removeAttribute("aria-current");
  const st = tr.querySelector(".st");
  st.textContent = "";
  st.appendChild(el("div", "status", STATUS_WORDS[seg.status] || seg.status));
  if (seg.state) st.appendChild(el("div", "fmt-state", seg.state));
  if (seg.origin && seg.origin !== "file") st.appendChild(el("div", "origin", "by " + seg.origin));
  const failed = failure(seg);
  if (failed) st.appendChild(el("div", "flag bad mt-failed", failed));
  for (const f of seg.flags) if (!BLOCKING[f]) st.appendChild(el("div", "flag", f));
  if ((seg.violations || []).length) st.appendChild(el("div", "flag bad", `${seg.violations.length} term problem(s)`));
  if (seg.code_problems) st.appendChild(el("div", "flag bad", "codes differ"));
  if (tooLong(seg)) st.appendChild(el("div", "flag bad", "too long"));
  if (seg.comment) st.appendChild(el("div", "comment-mark", "comment"));
  const checks = Object.keys(seg.checks || {});
  if (checks.length) st.appendChild(el("div", "flag", "checks: " + checks.join(", ")));
  const editor = tr.querySelector(".editor");
  showCounter(tr, seg, editor && document.activeElement === editor ? serialize(editor) : seg.target);
}

function rowOf(i) { return document.getElementById("seg-" + i); }
function editorOf(i) { const r = rowOf(i); return r ? r.querySelector(".editor") : null; }

function update(data, rerender) {
  const seg = state.segments[data.i];
  Object.assign(seg, data);
  const tr = rowOf(seg.i);
  if (tr) {
    decorate(tr, seg);
    renderText(tr.querySelector(".source"), seg, seg.source, sourceMarks(seg));
    const editor = tr.querySelector(".editor");
    if (rerender || document.activeElement !== editor) renderText(editor, seg, seg.target, targetMarks(seg));
    else liveMarks(editor, seg);  // the translator is typing here: marks drawn over the text, caret untouched
  }
  if (state.active === seg.i) renderPanel(seg);
  refreshProgress();
  clearTimeout(state.timers.get("counts"));  // many rows change at once during pre-translation: count once
  state.timers.set("counts", setTimeout(refreshCounts, 150));
}

// The DOM position of a character offset in an editor's text (chips count as their placeholder).
function positionAt(editor, offset) {
  let left = offset;
  for (const child of editor.childNodes) {
    let size = 0;
    if (child.nodeType === Node.TEXT_NODE) size = child.nodeValue.length;
    else if (child.nodeType !== Node.ELEMENT_NODE || child.classList.contains("ghost")) size = 0;
    else if (child.dataset.ph) size = child.dataset.ph.length;
    else if (child.tagName === "BR") size = 1;
    else size = serialize(child).length;
    if (left <= size && child.nodeType === Node.TEXT_NODE) return [child, left];
    if (left < size) return [child, 0];
    left -= size;
  }
  return [editor, editor.childNodes.length];
}

// Forbidden terms underlined in the editor being typed in, with the CSS Custom Highlight API: the marks
// are drawn over the text without changing the editor's content, so the caret and undo history stay.
function liveMarks(editor, seg) {
  if (!window.CSS || !CSS.highlights || typeof Highlight === "undefined") return;
  const text = serialize(editor);
  const ranges = [];
  if (text === (seg.target || "")) {
    for (const f of seg.forbidden || []) {
      for (const [s, e] of f.spans) {
        const range = document.createRange();
        range.setStart(...positionAt(editor, s));
        range.setEnd(...positionAt(editor, e));
        ranges.push(range);
      }
    }
  }
  CSS.highlights.set("term-bad", new Highlight(...ranges));
}

function refreshProgress() {
  let total = 0, done = 0;
  for (const s of state.segments) {
    total += s.words;
    if (s.status === "confirmed" || s.status === "locked") done += s.words;
  }
  const pct = total ? Math.round(100 * done / total) : 0;
  $("progress-fill").style.width = pct + "%";
  $("progress-text").textContent = `${done} / ${total} words confirmed (${pct}%)`;
  $("progress").setAttribute("aria-valuenow", String(pct));
}

// -- the side panel ---------------------------------------------------------------------------------------

function listInto(id, items) {
  const ul = $(id);
  ul.textContent = "";
  for (const item of items) ul.appendChild(el("li", null, item));
}

function renderPanel(seg) {
  // the row's number, as in the grid; the file's own id apart (a PO id counts entries, not rows)
  $("p-key").textContent = `${seg.i + 1} of ${state.segments.length}`;
  $("p-id").textContent = `id ${seg.key}` + (state.doc.files > 1 && seg.file ? ` · file ${seg.file}` : "");
  $("p-state").textContent = `${STATUS_WORDS[seg.status] || seg.status}` +
    (seg.file_state ? ` · in the file: ${seg.file_state}` : "") + (seg.state === null && seg.file_state ? " (until saved)" : "") +
    (seg.readonly ? ` · read-only (${seg.reason})` : "") + (seg.hint ? ` · ${seg.hint}` : "") +
    (seg.max_length != null ? ` · at most ${seg.max_length} characters` : "");
  const failed = failure(seg);
  $("p-failed").hidden = !failed;
  $("p-failed").textContent = failed || "";
  if (document.activeElement !== $("comment")) $("comment").value = seg.comment || "";
  $("comment").disabled = !state.doc.comments;
  $("p-comment-state").textContent = state.doc.comments ? "" : `(a ${state.doc.format} document has no place for comments)`;
  listInto("p-terms", (seg.terms || []).map((t) => t.dnt ? `${t.source}: keep as is` :
    `${t.source} → ${t.targets.join(" / ")}` + (t.forbidden.length ? `  (not: ${t.forbidden.join(", ")})` : "")));
  listInto("p-violations", seg.violations || []);
  const checks = seg.flags.slice();
  for (const [name, message] of Object.entries(seg.checks || {})) checks.push(`${name}: ${message}`);
  if (seg.code_problems) {
    if (seg.code_problems.missing.length) checks.push("codes missing: " + seg.code_problems.missing.join(" "));
    if (seg.code_problems.extra.length) checks.push("codes not in the source: " + seg.code_problems.extra.join(" "));
    if (!seg.code_problems.ok && !seg.code_problems.missing.length && !seg.code_problems.extra.length) checks.push("codes out of order or unbalanced");
  }
  listInto("p-checks", checks);
  listInto("p-notes", seg.notes || []);
  const hist = $("p-history");
  hist.textContent = "";
  (seg.history || []).forEach((h, k) => {
    const li = el("li", "h-" + h.kind);
    const head = el("div", "h-head", h.kind + (h.percent !== undefined ? ` ${h.percent}%` : "") +
      (h.instruction ? `: “${h.instruction}”` : ""));
    li.appendChild(head);
    if (h.text !== null && h.text !== undefined) {
      const body = el("div", "h-text");
      body.lang = state.doc.target_lang;
      body.dir = targetDir();
      renderText(body, seg, h.text, []);
      li.appendChild(body);
      if (!seg.readonly && h.text !== seg.target) {
        const b = el("button", "takeback", "take back");
        b.type = "button";
        b.addEventListener("click", () => takeBack(seg, k));
        li.appendChild(b);
      }
    }
    hist.appendChild(li);
  });
  $("p-conflict").hidden = !state.conflicts.has(seg.i);
  renderAlternatives();
}

function renderAlternatives() {
  const box = $("p-alternatives");
  box.textContent = "";
  state.alternatives.forEach((word, k) => {
    const b = el("button", "alt", `${k + 1}: ${word.trim()}`);
    b.type = "button";
    b.addEventListener("mousedown", (ev) => { ev.preventDefault(); acceptText(word); });
    box.appendChild(b);
  });
}

function activate(i) {
  if (state.active === i) return;
  const old = rowOf(state.active);
  if (old) { old.classList.remove("active"); old.removeAttribute("aria-current"); }
  if (window.CSS && CSS.highlights) CSS.highlights.clear();
  state.active = i;
  state.alternatives = [];
  const tr = rowOf(i);
  if (tr) { tr.classList.add("active"); tr.setAttribute("aria-current", "true"); }
  const seg = state.segments[i];
  renderPanel(seg);
  loadMatches(seg);
  // screen readers hear where the translator is (the editor's own name says which segment it is)
  $("announce").textContent = `Segment ${i + 1} of ${state.segments.length}, ${STATUS_WORDS[seg.status] || seg.status}` +
    ((seg.violations || []).length ? `, ${seg.violations.length} term problem(s)` : "");
  remember();
  warmPrediction(i);
}

// The page, filter and active segment of this document, kept for a reload of the tab.
function remember() {
  if (!state.doc) return;
  sessionStorage.setItem("bayling-cat-view-" + state.doc.id, JSON.stringify(
    {page: state.page, active: state.active, filter: state.filter, search: $("search").value, tags: state.showTags}));
}

function recall(id) {
  try { return JSON.parse(sessionStorage.getItem("bayling-cat-view-" + id) || "null"); } catch (e) { return null; }
}

// an empty target: the first words are predicted at once, and the segment's session on the server holds its
// prompt before the first keystroke
function warmPrediction(i) {
  const editor = editorOf(i);
  if (editor && !state.segments[i].readonly && !serialize(editor).trim()) schedulePrediction(state.segments[i], editor);
}

// -- memory matches (the CAT tool's translation results) ---------------------------------------------------

async function loadMatches(seg) {
  const seq = ++state.matchSeq;
  state.matches = [];
  $("p-tm").hidden = !state.doc.memory;
  $("p-matches").textContent = "";
  if (!state.doc.memory) return;
  let data;
  try {
    data = await api("GET", `/workbench/api/documents/${state.doc.id}/segments/${seg.i}/matches`, undefined,
      false, fresh("matches"));
  } catch (err) { if (err.name !== "AbortError") fail(err); return; }
  if (seq !== state.matchSeq || state.active !== seg.i) return;  // another segment was chosen meanwhile
  state.matches = data.matches;
  state.threshold = data.threshold;
  renderMatches(seg);
}

function renderMatches(seg) {
  const box = $("p-matches");
  box.textContent = "";
  if (!state.matches.length) {
    box.appendChild(el("li", "muted", `no match of ${state.threshold}% or more`));
    return;
  }
  state.matches.forEach((m, k) => {
    const li = el("li", "match");
    const head = el("div", "m-head");
    head.appendChild(el("span", "pct" + (m.percent >= 100 ? " exact" : ""), `${m.percent}%`));
    if (!seg.readonly) {
      const b = el("button", "use", "use");
      b.type = "button";
      b.title = `put this translation into the target (Ctrl+Shift+${k + 1})`;
      b.addEventListener("click", () => useMatch(seg, k).catch(() => {}));
      head.appendChild(b);
    }
    li.appendChild(head);
    // the match's source with what differs from this segment's: struck out (only the match has it) and
    // underlined (only this segment has it)
    const source = el("div", "m-source");
    for (const [op, text] of m.differences) {
      source.appendChild(op === "=" ? document.createTextNode(text) : el(op === "-" ? "del" : "ins", null, text));
    }
    li.appendChild(source);
    source.lang = state.doc.source_lang;
    source.dir = "auto";
    const target = el("div", "m-target");
    target.lang = state.doc.target_lang;
    target.dir = targetDir();
    renderText(target, seg, m.target, []);
    li.appendChild(target);
    box.appendChild(li);
  });
}

async function useMatch(seg, k) {
  const m = state.matches[k];
  if (!m || seg.readonly || state.active !== seg.i) return;
  clearTimeout(state.timers.get(seg.i));
  state.timers.delete(seg.i);
  await enqueue(seg, async () => update(await send(seg, "use-match", {target: m.target, percent: m.percent}), true));
  const editor = editorOf(seg.i);
  if (editor) { editor.focus(); placeCaretAtEnd(editor); }
}

// -- editing and saving -----------------------------------------------------------------------------------

// One change at a time per segment, each based on the version the previous one produced.
function enqueue(seg, task) {
  const prev = state.queues.get(seg.i) || Promise.resolve();
  const next = prev.then(task, task);
  state.queues.set(seg.i, next.catch(() => {}));
  return next;
}

async function send(seg, action, payload, expected) {
  const method = action && action !== "comment" ? "POST" : "PUT";
  const path = `/workbench/api/documents/${state.doc.id}/segments/${seg.i}` + (action ? "/" + action : "");
  try {
    const data = await api(method, path, {...payload, version: seg.version});
    state.conflicts.delete(seg.i);
    return data;
  } catch (err) {
    if (expected && expected.includes(err.status)) throw err;
    if (err.status === 409 && err.data && err.data.current) {
      state.conflicts.set(seg.i, {mine: payload.target, theirs: err.data.current});
      const tr = rowOf(seg.i);
      if (tr) tr.classList.add("conflict");
      if (state.active === seg.i) $("p-conflict").hidden = false;
      toast(`Segment ${seg.i + 1}: ${err.message}`, "error");
    } else {
      fail(err);
    }
    throw err;
  }
}

function onInput(seg, editor) {
  showCounter(rowOf(seg.i), seg, serialize(editor));
  clearGhost(editor);
  state.alternatives = [];
  renderAlternatives();
  clearTimeout(state.timers.get(seg.i));
  state.timers.set(seg.i, setTimeout(() => saveNow(seg, editor), SAVE_DELAY));
  schedulePrediction(seg, editor);
}

function saveNow(seg, editor) {
  clearTimeout(state.timers.get(seg.i));
  state.timers.delete(seg.i);
  const text = serialize(editor);
  if (text === (seg.target || "") || state.conflicts.has(seg.i)) return Promise.resolve();
  return enqueue(seg, async () => {
    const data = await send(seg, null, {target: text});
    update(data, false);
  });
}

async function confirmSegment(seg, editor, acceptRepair) {
  clearTimeout(state.timers.get(seg.i));
  state.timers.delete(seg.i);
  const text = serialize(editor);
  if (!text.trim()) { toast("An empty target cannot be confirmed.", "error"); return; }
  let repaired = null;
  await enqueue(seg, async () => {
    try {
      const data = await send(seg, "confirm", {target: text, accept_repair: !!acceptRepair}, [422]);
      update(data, true);
      if (data.warning) toast(data.warning, "warn");
    } catch (err) {
      if (err.status !== 422 || !err.data || err.data.repaired === undefined) throw err;
      repaired = err.data.repaired;
    }
  });
  if (repaired !== null) { askRepair(seg, text, repaired); return; }
  gotoNext(seg.i, (s) => s.status !== "confirmed" && !s.readonly && s.source.trim() !== "", 1, true);
}

// A target whose inline codes the file cannot hold as typed: the translator sees what it would become and
// decides (confirm it so, or go back to fix it); nothing is changed behind their back.
function askRepair(seg, typed, repaired) {
  const dialog = $("repair-dialog");
  renderText($("repair-typed"), seg, typed, []);
  renderText($("repair-fixed"), seg, repaired, []);
  for (const id of ["repair-typed", "repair-fixed"]) { $(id).lang = state.doc.target_lang; $(id).dir = targetDir(); }
  $("repair-yes").onclick = () => {
    dialog.close();
    const editor = editorOf(seg.i);
    if (editor) confirmSegment(seg, editor, true).catch(() => {});
  };
  $("repair-no").onclick = () => { dialog.close(); focusSegment(seg.i); };
  dialog.showModal();
  $("repair-no").focus();
}

async function machineTranslate(seg) {
  const editor = editorOf(seg.i);
  if (editor) editor.classList.add("busy");
  try {
    await enqueue(seg, async () => update(await send(seg, "translate", {}), true));
    const failed = failure(state.segments[seg.i]);
    if (failed) toast(`Segment ${seg.i + 1}: ${failed}`, "error");
  } finally { if (editor) editor.classList.remove("busy"); }
}

// Ctrl+Z: the browser undoes typing; a target the server replaced (machine translation, a memory match, a
// revision, a take-back) is undone by taking back the version before it.
function undo(ev, seg, editor) {
  const history = seg.history || [];
  const last = history[history.length - 1];
  if (!last || serialize(editor) !== (seg.target || "") || state.timers.has(seg.i)) return;  // typing: native undo
  if (!["mt", "memory", "revise", "takeback", "copy"].includes(last.kind)) return;
  ev.preventDefault();
  const before = history.length - 2;
  if (before >= 0 && history[before].text !== null && history[before].text !== undefined) {
    takeBack(seg, before).catch(() => {});
  } else {  // nothing before the machine translation: back to an empty target
    enqueue(seg, async () => update(await send(seg, null, {target: ""}), true)).catch(() => {});
  }
}

async function revise(seg, instruction) {
  const editor = editorOf(seg.i);
  if (editor) { await saveNow(seg, editor); editor.classList.add("busy"); }
  $("btn-revise").disabled = true;
  try {
    await enqueue(seg, async () => update(await send(seg, "revise", {instruction}), true));
    $("instruction").value = "";
  } finally {
    $("btn-revise").disabled = false;
    if (editor) editor.classList.remove("busy");
  }
}

async function takeBack(seg, entry) {
  await enqueue(seg, async () => update(await send(seg, "takeback", {entry}), true));
}

function resolveConflict(useTheirs) {
  const seg = state.segments[state.active];
  const c = state.conflicts.get(seg.i);
  if (!c) return;
  state.conflicts.delete(seg.i);
  const mine = c.mine;
  update(c.theirs, true);
  if (!useTheirs && mine !== undefined) {
    enqueue(seg, async () => update(await send(seg, null, {target: mine}), true));
  }
}

// The next segment that passes ``test``, after ``from`` (wrapping around at the end, as CAT tools do).
function gotoNext(from, test, step, wrap) {
  step = step || 1;
  const order = state.visible.length ? state.visible : state.segments;
  const at = order.findIndex((s) => s.i === from);
  for (let n = 1; n < order.length; n++) {
    const k = at + step * n;
    if (!wrap && (k < 0 || k >= order.length)) return;
    const seg = order[((k % order.length) + order.length) % order.length];
    if (test(seg)) { focusSegment(seg.i); return; }
  }
}

function focusSegment(i) {
  const pos = state.visible.findIndex((s) => s.i === i);
  if (pos < 0) return;
  const page = Math.floor(pos / PAGE_SIZE);
  if (page !== state.page) { state.page = page; applyFilter(true); }
  const editor = editorOf(i);
  if (!editor) return;
  editor.focus();
  placeCaretAtEnd(editor);
  editor.scrollIntoView({block: "center"});
}

function placeCaretAtEnd(editor) {
  const range = document.createRange();
  range.selectNodeContents(editor);
  const ghost = editor.querySelector(".ghost");
  if (ghost) range.setEndBefore(ghost);
  range.collapse(false);
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
}

function insertCode(seg, tag) {
  const editor = editorOf(seg.i);
  if (!editor) return;
  const m = /<(\/?)(\d+)(\/?)>/.exec(tag);
  const code = seg.codes[m[2]];
  const sel = window.getSelection();
  if (!sel.rangeCount || !editor.contains(sel.anchorNode)) placeCaretAtEnd(editor);
  const range = window.getSelection().getRangeAt(0);
  if (code && code.paired && !m[1]) {  // a paired code goes around the selection
    const inner = range.extractContents();
    const frag = document.createDocumentFragment();
    frag.appendChild(chip(seg, `<${m[2]}>`, "", m[2], ""));
    frag.appendChild(inner);
    const close = chip(seg, `</${m[2]}>`, "/", m[2], "");
    frag.appendChild(close);
    range.insertNode(frag);
    range.setStartAfter(close);
  } else {
    const node = chip(seg, tag, m[1], m[2], m[3]);
    range.insertNode(node);
    range.setStartAfter(node);
  }
  range.collapse(true);
  sel.removeAllRanges();
  sel.addRange(range);
  onInput(seg, editor);
}

// -- predictive typing ------------------------------------------------------------------------------------

function caretAtEnd(editor) {
  const sel = window.getSelection();
  if (!sel.rangeCount || !sel.isCollapsed) return false;
  const probe = document.createRange();
  probe.selectNodeContents(editor);
  const ghost = editor.querySelector(".ghost");
  if (ghost) probe.setEndBefore(ghost);
  probe.setStart(sel.anchorNode, sel.anchorOffset);
  return probe.toString().length === 0;
}

function abortPrediction() {
  // the request in flight is stale: the page drops it and the server stops decoding it (a newer request for
  // the same segment cancels the older one there too)
  const pending = state.aborts.get("predict");
  if (pending) pending.abort();
  state.aborts.delete("predict");
}

function schedulePrediction(seg, editor) {
  const seq = ++state.predictSeq;
  abortPrediction();
  clearTimeout(state.timers.get("predict"));
  state.timers.set("predict", setTimeout(() => predict(seg, editor, seq), PREDICT_DELAY));
}

// The next word's alternatives are asked for where a word begins (nothing typed yet, after a space or a
// punctuation mark, or after a CJK character, itself a word): there Alt+n inserts a whole word. Inside a word
// the prediction only continues it, which takes the model a third of the time (docs/workbench.md).
function wordStart(prefix) {
  return !prefix || /[\s\p{P}\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]$/u.test(prefix);
}

async function predict(seg, editor, seq) {
  if (document.activeElement !== editor || !caretAtEnd(editor)) return;
  const prefix = serialize(editor);
  let data;
  try {  // a newer prediction aborts this one: the server stops working on what nobody waits for
    data = await api("POST", "/v1/complete", {source: seg.source.trim(), prefix,
      alternatives: wordStart(prefix) ? 5 : 0,
      source_lang: state.doc.source_lang, target_lang: state.doc.target_lang}, false, fresh("predict"));
  } catch (err) { return; }  // aborted, or a prediction failed: a nicety, no error toast while typing
  // stale answers are dropped: the translator typed on, or moved elsewhere, while the model thought
  if (seq !== state.predictSeq || document.activeElement !== editor || serialize(editor) !== prefix) return;
  showGhost(editor, data.continuation || "");
  state.alternatives = (data.alternatives || []).filter((w) => w.trim()).slice(0, 5);
  renderAlternatives();
}

function showGhost(editor, text) {
  clearGhost(editor);
  state.ghost = text;
  if (!text) return;
  const ghost = el("span", "ghost", text);
  ghost.contentEditable = "false";
  ghost.setAttribute("aria-hidden", "true");  // a suggestion, not the text: Tab takes it
  editor.appendChild(ghost);
  placeCaretAtEnd(editor);
}

function clearGhost(editor) {
  state.ghost = "";
  if (editor) for (const g of editor.querySelectorAll(".ghost")) g.remove();
}

function acceptText(text) {
  const seg = state.segments[state.active];
  const editor = editorOf(seg.i);
  if (!editor || !text) return;
  const rest = state.ghost.startsWith(text) ? state.ghost.slice(text.length) : "";
  clearGhost(editor);
  editor.focus();
  placeCaretAtEnd(editor);
  const last = editor.lastChild;
  if (last && last.nodeType === Node.TEXT_NODE) last.nodeValue += text;
  else editor.appendChild(document.createTextNode(text));
  placeCaretAtEnd(editor);
  state.alternatives = [];
  renderAlternatives();
  clearTimeout(state.timers.get(seg.i));
  state.timers.set(seg.i, setTimeout(() => saveNow(seg, editor), SAVE_DELAY));
  if (rest.trim()) showGhost(editor, rest);
  schedulePrediction(seg, editor);
}

function nextWord(text) {
  const m = /^\s*[^\s]+/.exec(text);
  return m ? m[0] : text;
}

// -- keys -------------------------------------------------------------------------------------------------

function onEditorKey(ev, seg, editor) {
  if (ev.key === "Tab" && state.ghost) {
    ev.preventDefault();
    acceptText(ev.shiftKey ? state.ghost : nextWord(state.ghost));
  } else if (ev.key === "Escape" && state.ghost) {
    ev.preventDefault();
    clearGhost(editor);
  } else if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
    ev.preventDefault();
    confirmSegment(seg, editor).catch(() => {});
  } else if (ev.key === "Enter" && ev.shiftKey) {
    ev.preventDefault();
    document.execCommand("insertText", false, "\n");
  } else if (ev.key === "Enter") {
    ev.preventDefault();
  } else if (ev.altKey && !ev.ctrlKey && /^[1-5]$/.test(ev.key) && state.alternatives.length) {
    ev.preventDefault();
    const word = state.alternatives[Number(ev.key) - 1];
    if (word) acceptText(word);
  } else if (ev.ctrlKey && ev.shiftKey && !ev.altKey && /^Digit[1-3]$/.test(ev.code)) {
    ev.preventDefault();
    useMatch(seg, Number(ev.code.slice(5)) - 1).catch(() => {});
  } else if (ev.ctrlKey && ev.altKey && /^Digit[1-9]$/.test(ev.code)) {
    ev.preventDefault();
    const n = ev.code.slice(5);
    const code = seg.codes[n];
    if (code) insertCode(seg, code.paired ? `<${n}>` : `<${n}/>`);
  } else if (ev.ctrlKey && !ev.altKey && !ev.shiftKey && (ev.key === "z" || ev.key === "Z")) {
    undo(ev, seg, editor);
  } else if (ev.ctrlKey && ev.altKey && (ev.key === "z" || ev.key === "Z")) {
    ev.preventDefault();
    const h = seg.history || [];
    if (h.length > 1) takeBack(seg, h.length - 2).catch(() => {});
  } else if (ev.ctrlKey && (ev.key === "m" || ev.key === "M")) {
    ev.preventDefault();
    machineTranslate(seg).catch(() => {});
  } else if (ev.ctrlKey && (ev.key === "i" || ev.key === "I")) {
    ev.preventDefault();
    $("instruction").focus();
  } else if (ev.altKey && (ev.key === "ArrowDown" || ev.key === "ArrowUp")) {
    ev.preventDefault();
    saveNow(seg, editor);
    gotoNext(seg.i, (s) => !s.readonly, ev.key === "ArrowDown" ? 1 : -1);
  }
}

document.addEventListener("keydown", (ev) => {
  const key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
  if (ev.key === "F1") { ev.preventDefault(); $("help-dialog").showModal(); }
  else if (ev.ctrlKey && key === "s") { ev.preventDefault(); save(); }
  else if (ev.ctrlKey && ev.shiftKey && key === "f") { ev.preventDefault(); $("search").focus(); }
  else if (ev.ctrlKey && !ev.shiftKey && key === "k") { ev.preventDefault(); openConcordance(); }
  else if (ev.ctrlKey && !ev.shiftKey && key === "h") { ev.preventDefault(); openReplace(); }
  else if (ev.altKey && !ev.ctrlKey && key === "c") { ev.preventDefault(); if (state.active !== null) $("comment").focus(); }
  else if (ev.altKey && !ev.ctrlKey && key === "p") { ev.preventDefault(); pretranslate(); }
});

// -- concordance: the memory and the glossary searched for a word or phrase -------------------------------

function openConcordance() {
  const selected = String(window.getSelection() || "").trim();
  const input = $("conc-q");
  if (selected && selected.length <= 500) input.value = selected;
  input.focus();
  input.select();
  if (input.value.trim()) concordance(input.value).catch(fail);
}

async function concordance(text) {
  const q = text.trim();
  const box = $("conc-results");
  if (!q) { box.textContent = ""; return; }
  let data;
  try {
    data = await api("GET", `/workbench/api/documents/${state.doc.id}/concordance?q=${encodeURIComponent(q)}`,
      undefined, false, fresh("concordance"));
  } catch (err) { if (err.name !== "AbortError") throw err; return; }
  box.textContent = "";
  const needle = q.toLowerCase();
  const marked = (tag, text, lang, dir) => {
    const node = el(tag, null);
    node.lang = lang;
    node.dir = dir;
    renderText(node, {codes: {}}, text, hits(text, needle));
    return node;
  };
  for (const u of data.memory) {
    const li = el("li", "conc-unit");
    li.appendChild(marked("div", u.source, state.doc.source_lang, "auto")).className = "c-source";
    li.appendChild(marked("div", u.target, state.doc.target_lang, targetDir())).className = "c-target";
    box.appendChild(li);
  }
  for (const t of data.terms) {
    const li = el("li", "conc-term");
    li.appendChild(el("span", "c-kind", "term "));
    li.appendChild(marked("span", t.source, state.doc.source_lang, "auto"));
    li.appendChild(document.createTextNode(" → "));
    li.appendChild(marked("span", t.dnt ? t.source : t.targets.join(" / "), state.doc.target_lang, "auto"));
    if (t.forbidden.length) li.appendChild(el("span", "c-forbidden", ` (not: ${t.forbidden.join(", ")})`));
    box.appendChild(li);
  }
  const where = [data.has_memory ? "memory" : null, data.has_glossary ? "glossary" : null].filter(Boolean);
  $("conc-status").textContent = where.length ?
    `${data.memory.length} memory unit(s), ${data.terms.length} term(s) for “${q}”` :
    "this document has neither a memory nor a glossary";
}

// -- find and replace in targets, one occurrence at a time ------------------------------------------------

function openReplace() {
  $("replace-bar").hidden = false;
  const selected = String(window.getSelection() || "").trim();
  if (selected && selected.length <= 200 && !$("find-text").value) $("find-text").value = selected;
  $("find-text").focus();
  $("find-text").select();
}

// The next target holding the find text (any case, never inside an inline code), after the occurrence last
// shown, wrapping around at the end; null when there is none.
function nextOccurrence(from) {
  const needle = $("find-text").value.toLowerCase();
  if (!needle) return null;
  const order = state.segments.filter((s) => !s.readonly && s.target);
  if (!order.length) return null;
  const k = Math.max(0, from ? order.findIndex((s) => s.i === from.i) : 0);
  for (let n = 0; n <= order.length; n++) {
    const seg = order[(k + n) % order.length];
    const text = seg.target.toLowerCase();
    let at = text.indexOf(needle, n === 0 && from ? from.at + from.length : 0);
    while (at >= 0 && insideCode(seg.target, at, needle.length)) at = text.indexOf(needle, at + 1);
    if (at >= 0) return {i: seg.i, at, length: needle.length};
  }
  return null;
}

function insideCode(text, at, length) {
  PH.lastIndex = 0;
  let m;
  while ((m = PH.exec(text)) !== null) {
    if (m.index < at + length && at < m.index + m[0].length) return true;
  }
  return false;
}

function showOccurrence(found) {
  state.replaceAt = found;
  if (!found) {
    $("replace-status").textContent = `no (more) “${$("find-text").value}” in the targets`;
    return;
  }
  if (!state.visible.some((s) => s.i === found.i)) { state.filter = "all"; $("filter").value = "all"; $("search").value = ""; state.search = ""; applyFilter(); }
  const page = Math.floor(state.visible.findIndex((s) => s.i === found.i) / PAGE_SIZE);
  if (page !== state.page) { state.page = page; applyFilter(true); }
  const editor = editorOf(found.i);
  activate(found.i);
  if (editor) {
    editor.scrollIntoView({block: "center"});
    const range = document.createRange();
    range.setStart(...positionAt(editor, found.at));
    range.setEnd(...positionAt(editor, found.at + found.length));
    if (window.CSS && CSS.highlights) CSS.highlights.set("replace-hit", new Highlight(range));
  }
  $("replace-status").textContent = `segment ${found.i + 1}: replace this one?`;
}

function findNext() { showOccurrence(nextOccurrence(state.replaceAt)); }

async function replaceOne() {
  const at = state.replaceAt;
  if (!at) { findNext(); return; }
  const seg = state.segments[at.i];
  const editor = editorOf(at.i);
  if (editor) await saveNow(seg, editor);
  const text = seg.target || "";
  if (text.slice(at.at, at.at + at.length).toLowerCase() !== $("find-text").value.toLowerCase()) { findNext(); return; }
  const replaced = text.slice(0, at.at) + $("replace-text").value + text.slice(at.at + at.length);
  await enqueue(seg, async () => update(await send(seg, null, {target: replaced}), true));
  state.replaceAt = {i: at.i, at: at.at, length: $("replace-text").value.length};
  findNext();
}

// -- comments ---------------------------------------------------------------------------------------------

function saveComment() {
  clearTimeout(state.timers.get("comment"));
  state.timers.delete("comment");
  if (state.active === null) return Promise.resolve();
  const seg = state.segments[state.active];
  const text = $("comment").value;
  if (text.trim() === (seg.comment || "").trim()) return Promise.resolve();
  return enqueue(seg, async () => update(await send(seg, "comment", {comment: text}), false));
}

// -- document actions -------------------------------------------------------------------------------------

async function flushAll() {
  if (state.timers.has("comment")) await saveComment().catch(() => {});
  for (const [i, timer] of state.timers) {
    if (typeof i !== "number") continue;
    clearTimeout(timer);
    const editor = editorOf(i);
    if (editor) await saveNow(state.segments[i], editor).catch(() => {});
  }
  await Promise.all([...state.queues.values()]);
}

function flushForUnload() {
  const key = sessionStorage.getItem("bayling-cat-api-key");
  for (const [i, timer] of [...state.timers]) {
    if (typeof i !== "number") continue;
    clearTimeout(timer);
    state.timers.delete(i);
    const seg = state.segments[i], editor = editorOf(i);
    if (!seg || !editor) continue;
    const text = serialize(editor);
    if (text === (seg.target || "")) continue;
    const headers = {"X-Workbench-Token": TOKEN, "Content-Type": "application/json"};
    if (key) headers["X-API-Key"] = key;
    fetch(`/workbench/api/documents/${state.doc.id}/segments/${i}`, {method: "PUT", headers, keepalive: true,
      credentials: "omit", body: JSON.stringify({target: text, version: seg.version})});
  }
}

async function save() {
  if (!state.doc) return;
  try {
    await flushAll();
    const result = await api("POST", `/workbench/api/documents/${state.doc.id}/save`, {});
    toast(`Saved ${result.output}` + (result.backup ? ` (original kept as ${result.backup})` : ""), "ok");
  } catch (err) { fail(err); }
}

async function download() {
  try {
    await flushAll();
    const response = await api("GET", `/workbench/api/documents/${state.doc.id}/download`, undefined, true);
    const blob = await response.blob();
    const a = el("a");
    a.href = URL.createObjectURL(blob);
    a.download = state.doc.name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (err) { fail(err); }
}

async function pretranslate() {
  if (!state.doc) return;
  const button = $("btn-pretranslate");
  button.disabled = true;
  $("job").hidden = false;
  let failed = 0;
  try {
    await flushAll();
    let job = await api("POST", `/workbench/api/documents/${state.doc.id}/pretranslate`, {});
    while (job.status === "running") {
      const pct = job.total ? Math.round(100 * job.done / job.total) : 100;
      $("job-fill").style.width = pct + "%";
      $("job-text").textContent = `pre-translating: ${job.done} / ${job.total} segments`;
      await new Promise((r) => setTimeout(r, 400));
      job = await api("GET", `/workbench/api/jobs/${job.id}`);
      await syncChanges();  // rows fill in as their translations arrive
    }
    if (job.status === "error") throw new Error(job.error);
    $("job-fill").style.width = "100%";
    await syncChanges();
    failed = (job.failed || []).length;
    // what got nothing is counted, never folded into the translated
    $("job-text").textContent = `pre-translated ${job.total - failed} of ${job.total} segments` +
      (failed ? `; ${failed} got nothing (machine translation failed; the filter “flagged” lists them)` : "");
    if (failed) toast(`${failed} segment(s) got no machine translation`, "error");
  } catch (err) { fail(err); } finally {
    button.disabled = false;
    if (!failed) setTimeout(() => { $("job").hidden = true; }, 1500);
  }
}

// Segments changed on the server since this page last looked (pre-translation, another tab). A segment
// being edited here is left alone: taking its new version would turn a visible conflict into a silent overwrite.
async function syncChanges() {
  const data = await api("GET", `/workbench/api/documents/${state.doc.id}/changes?since=${state.changes}`);
  for (const seg of data.segments) {
    const editor = editorOf(seg.i);
    const busy = state.timers.has(seg.i) || (editor && document.activeElement === editor &&
      serialize(editor) !== (state.segments[seg.i].target || ""));
    if (!busy && seg.version > state.segments[seg.i].version) update(seg, true);
  }
  state.changes = data.changes;
  refreshProgress();
}

async function loadDocument(id, keepPage) {
  const doc = await api("GET", `/workbench/api/documents/${id}`);
  state.doc = doc;
  state.segments = doc.segments;
  state.changes = doc.changes;
  state.conflicts.clear();
  const title = $("doc-title");
  title.textContent = `${doc.name} · ${doc.format} · ${doc.source_lang} → ${doc.target_lang}` +
    (doc.glossary_terms ? ` · ${doc.glossary_terms} glossary terms` : "");
  if (doc.notice) toast(doc.notice, "warn");
  document.title = `${doc.name} – bayling-cat workbench`;
  document.documentElement.dataset.target = doc.target_lang;
  // a revision example in the document's own terms (a German word makes no sense for a Chinese target)
  const term = doc.segments.flatMap((s) => s.terms || []).find((t) => !t.dnt && t.targets.length);
  $("instruction").placeholder = "more formal / shorter" + (term ? ` / use '${term.targets[0]}' for '${term.source}'` : "");
  let active = state.active;
  const view = recall(id);
  if (view && !keepPage) {  // a reload: the page, filter and segment the translator was on
    state.filter = FILTERS[view.filter] ? view.filter : "all";
    $("filter").value = state.filter;
    $("search").value = view.search || "";
    state.search = $("search").value.trim().toLowerCase();
    state.showTags = !!view.tags;
    $("show-tags").checked = state.showTags;
    state.page = view.page || 0;
    active = Number.isInteger(view.active) ? view.active : null;
    keepPage = true;
  }
  state.active = null;
  applyFilter(keepPage);
  refreshProgress();
  if (active !== null && active < state.segments.length && rowOf(active)) {
    const editor = editorOf(active);
    if (view && editor && !state.segments[active].readonly) focusSegment(active);
    else activate(active);
    rowOf(active).scrollIntoView({block: "center"});
  }
  document.body.classList.add("ready");
}

// the model in the header; an adapted one with its base and what adaptation gained (docs/adapt.md)
function showModel(data) {
  const a = data.adapted;
  let text = `model: ${data.model}`;
  if (a) {
    const gain = a.held_out_chrf && a.held_out_chrf.gain != null ? `, held-out chrF++ ${a.held_out_chrf.gain >= 0 ? "+" : ""}${a.held_out_chrf.gain}` : "";
    text += ` (adapted from ${a.base} on ${Number(a.pairs).toLocaleString("en")} pairs${gain})`;
  }
  $("model-name").textContent = text;
}

async function showDocuments() {
  const data = await api("GET", "/workbench/api/documents");
  const list = $("docs-list");
  list.textContent = "";
  const items = [...data.open.map((d) => ({label: `${d.name} (open)`, open: () => loadDocument(d.id)})),
    ...data.available.filter((d) => !d.open).map((d) => ({label: `${d.name} (${d.kind})`, open: async () => {
      const info = await api("POST", "/workbench/api/documents", {kind: d.kind, ref: d.ref});
      await loadDocument(info.id);
    }}))];
  if (!items.length) list.appendChild(el("li", "muted", "No documents yet: upload one."));
  for (const item of items) {
    const li = el("li");
    const b = el("button", "link", item.label);
    b.type = "button";
    b.addEventListener("click", () => { $("docs-dialog").close(); item.open().catch(fail); });
    li.appendChild(b);
    list.appendChild(li);
  }
  $("upload-form").hidden = !data.can_upload;
  if (!$("docs-dialog").open) $("docs-dialog").showModal();
}

async function start() {
  $("filter").addEventListener("change", (ev) => { state.filter = ev.target.value; applyFilter(); });
  $("search").addEventListener("input", (ev) => { state.search = ev.target.value.trim().toLowerCase(); applyFilter(); });
  $("show-tags").addEventListener("change", (ev) => { state.showTags = ev.target.checked; applyFilter(true); });
  $("conc-form").addEventListener("submit", (ev) => { ev.preventDefault(); concordance($("conc-q").value).catch(fail); });
  $("replace-form").addEventListener("submit", (ev) => { ev.preventDefault(); findNext(); });
  $("btn-replace").addEventListener("click", () => replaceOne().catch(fail));
  $("btn-skip").addEventListener("click", findNext);
  $("btn-replace-close").addEventListener("click", () => {
    $("replace-bar").hidden = true;
    state.replaceAt = null;
    if (window.CSS && CSS.highlights) CSS.highlights.delete("replace-hit");
  });
  $("find-text").addEventListener("input", () => { state.replaceAt = null; $("replace-status").textContent = ""; });
  $("replace-form").addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") { ev.preventDefault(); $("btn-replace-close").click(); }
    else if (ev.altKey && (ev.key === "r" || ev.key === "R")) { ev.preventDefault(); replaceOne().catch(fail); }
    else if (ev.altKey && (ev.key === "s" || ev.key === "S")) { ev.preventDefault(); findNext(); }
  });
  $("comment").addEventListener("input", () => {
    clearTimeout(state.timers.get("comment"));
    state.timers.set("comment", setTimeout(() => saveComment().catch(() => {}), 800));
  });
  $("comment").addEventListener("blur", () => saveComment().catch(() => {}));
  $("comment").addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && state.active !== null) { ev.preventDefault(); saveComment().catch(() => {}); focusSegment(state.active); }
  });
  $("prev-page").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); applyFilter(true); });
  $("next-page").addEventListener("click", () => { state.page += 1; applyFilter(true); });
  $("btn-pretranslate").addEventListener("click", pretranslate);
  $("btn-save").addEventListener("click", save);
  $("btn-download").addEventListener("click", download);
  $("btn-documents").addEventListener("click", () => showDocuments().catch(fail));
  $("btn-help").addEventListener("click", () => $("help-dialog").showModal());
  $("help-close").addEventListener("click", () => $("help-dialog").close());
  $("docs-close").addEventListener("click", () => $("docs-dialog").close());
  $("btn-theirs").addEventListener("click", () => resolveConflict(true));
  $("btn-mine").addEventListener("click", () => resolveConflict(false));
  $("revise-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("instruction").value.trim();
    if (state.active === null || !text) return;
    revise(state.segments[state.active], text).catch(() => {});
  });
  $("instruction").addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && state.active !== null) { ev.preventDefault(); focusSegment(state.active); }
  });
  $("upload-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = $("upload-file").files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    if ($("upload-target").value.trim()) form.append("target_lang", $("upload-target").value.trim());
    try {
      const info = await api("POST", "/workbench/api/documents", form);
      $("docs-dialog").close();
      await loadDocument(info.id);
    } catch (err) { fail(err); }
  });
  // a closing tab still sends what was typed in the last half second (keepalive outlives the page)
  window.addEventListener("pagehide", flushForUnload);
  document.addEventListener("visibilitychange", () => { if (document.hidden) flushAll(); });
  try {
    const data = await api("GET", "/workbench/api/documents");
    showModel(data);
    $("btn-documents").hidden = !!data.review;
    $("btn-download").hidden = !!data.review;
    if (data.review) await loadDocument(data.review);
    else if (data.open.length === 1) await loadDocument(data.open[0].id);
    else await showDocuments();
  } catch (err) { fail(err); }
}

start();
