// The translator's workbench: a review grid over /workbench/api and /v1/complete.
// Plain JavaScript, no build step. Document text is only ever put into the page as text nodes
// (textContent / createTextNode), never as HTML.
"use strict";

const TOKEN = document.querySelector('meta[name="workbench-token"]').content;
const PAGE_SIZE = 50;
const SAVE_DELAY = 500;     // ms of quiet before a typed target is kept on the server
const PREDICT_DELAY = 250;  // ms of quiet before asking the model for a continuation
const PH = /<(\/?)(\d+)(\/?)>/g;

const state = {
  doc: null, segments: [], visible: [], page: 0, active: null, filter: "all", search: "",
  predictSeq: 0, predictAbort: null, ghost: "", alternatives: [], queues: new Map(), timers: new Map(), conflicts: new Map(),
  matchSeq: 0, matches: [], threshold: null,
};

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
  const response = await fetch(path, {method, headers, body: payload, credentials: "omit", cache: "no-store",
    signal});
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

function matches(seg) {
  const f = state.filter;
  const termProblem = (seg.violations || []).length > 0;
  if (f === "untranslated" && seg.status !== "new") return false;
  if (f === "machine" && seg.status !== "review") return false;
  if (f === "draft" && seg.status !== "draft") return false;
  if (f === "confirmed" && seg.status !== "confirmed") return false;
  if (f === "locked" && seg.status !== "locked") return false;
  if (f === "flagged" && !(seg.flags.length || seg.code_problems || Object.keys(seg.checks || {}).length)) return false;
  if (f === "terms" && !termProblem) return false;
  if (state.search) {
    const hay = (plainText(seg.source) + "\n" + plainText(seg.target)).toLowerCase();
    if (!hay.includes(state.search)) return false;
  }
  return true;
}

function applyFilter(keepPage) {
  state.visible = state.segments.filter(matches);
  const pages = Math.max(1, Math.ceil(state.visible.length / PAGE_SIZE));
  if (!keepPage) state.page = 0;
  state.page = Math.min(state.page, pages - 1);
  $("count").textContent = `${state.visible.length} of ${state.segments.length} segments`;
  $("page-text").textContent = `page ${state.page + 1} / ${pages}`;
  renderRows();
}

function renderRows() {
  const body = $("rows");
  body.textContent = "";
  const start = state.page * PAGE_SIZE;
  for (const seg of state.visible.slice(start, start + PAGE_SIZE)) body.appendChild(row(seg));
}

function sourceMarks(seg) {
  const missing = new Set(seg.missing || []);
  return (seg.terms || []).map((t) => [t.start, t.end, missing.has(t.source) ? "term term-missing" : "term",
    t.dnt ? `${t.source}: do not translate` : `${t.source} → ${t.targets.join(" / ") || "—"}` +
      (t.forbidden.length ? ` (not: ${t.forbidden.join(", ")})` : "")]);
}

function targetMarks(seg) {
  const marks = [];
  for (const f of seg.forbidden || []) for (const [s, e] of f.spans) marks.push([s, e, "term-bad", `do not use '${f.form}'`]);
  return marks;
}

function row(seg) {
  const tr = el("tr", "seg");
  tr.id = "seg-" + seg.i;
  tr.dataset.i = seg.i;
  tr.appendChild(el("td", "num", String(seg.i + 1)));
  const src = el("td", "source");
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
  }
  renderText(editor, seg, seg.target, targetMarks(seg));
  td.appendChild(editor);
  tr.appendChild(td);
  const st = el("td", "st");
  tr.appendChild(st);
  decorate(tr, seg);
  if (!seg.readonly) tr.addEventListener("click", () => { if (state.active !== seg.i) editor.focus(); });
  return tr;
}

// Row classes and the state cell, from the segment's current data (without touching the editor).
function decorate(tr, seg) {
  tr.className = "seg status-" + seg.status;
  if (seg.readonly) tr.classList.add("readonly");
  if ((seg.violations || []).length) tr.classList.add("term-problem");
  if (seg.code_problems) tr.classList.add("code-problem");
  if (seg.flags.length) tr.classList.add("flagged");
  if (state.conflicts.has(seg.i)) tr.classList.add("conflict");
  if (state.active === seg.i) tr.classList.add("active");
  const st = tr.querySelector(".st");
  st.textContent = "";
  st.appendChild(el("div", "status", STATUS_WORDS[seg.status] || seg.status));
  if (seg.state) st.appendChild(el("div", "fmt-state", seg.state));
  if (seg.origin && seg.origin !== "file") st.appendChild(el("div", "origin", "by " + seg.origin));
  for (const f of seg.flags) st.appendChild(el("div", "flag", f));
  if ((seg.violations || []).length) st.appendChild(el("div", "flag bad", `${seg.violations.length} term problem(s)`));
  if (seg.code_problems) st.appendChild(el("div", "flag bad", "codes differ"));
  const failed = Object.keys(seg.checks || {});
  if (failed.length) st.appendChild(el("div", "flag", "checks: " + failed.join(", ")));
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
  }
  if (state.active === seg.i) renderPanel(seg);
  refreshProgress();
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
}

// -- the side panel ---------------------------------------------------------------------------------------

function listInto(id, items) {
  const ul = $(id);
  ul.textContent = "";
  for (const item of items) ul.appendChild(el("li", null, item));
}

function renderPanel(seg) {
  $("p-key").textContent = `${seg.i + 1} (${seg.key})`;
  $("p-state").textContent = `${STATUS_WORDS[seg.status] || seg.status}` + (seg.state ? ` · in the file: ${seg.state}` : "") +
    (seg.readonly ? ` · read-only (${seg.reason})` : "") + (seg.hint ? ` · ${seg.hint}` : "");
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
  if (old) old.classList.remove("active");
  state.active = i;
  state.alternatives = [];
  const tr = rowOf(i);
  if (tr) tr.classList.add("active");
  renderPanel(state.segments[i]);
  loadMatches(state.segments[i]);
  // an empty target: the first words are predicted at once, and the segment's session on the server holds its
  // prompt before the first keystroke
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
    data = await api("GET", `/workbench/api/documents/${state.doc.id}/segments/${seg.i}/matches`);
  } catch (err) { fail(err); return; }
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
    const target = el("div", "m-target");
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

async function send(seg, action, payload) {
  const path = `/workbench/api/documents/${state.doc.id}/segments/${seg.i}` + (action ? "/" + action : "");
  try {
    const data = await api(action ? "POST" : "PUT", path, {...payload, version: seg.version});
    state.conflicts.delete(seg.i);
    return data;
  } catch (err) {
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

async function confirmSegment(seg, editor) {
  clearTimeout(state.timers.get(seg.i));
  const text = serialize(editor);
  if (!text.trim()) { toast("An empty target cannot be confirmed.", "error"); return; }
  if (seg.code_problems && seg.code_problems.missing.length)
    toast(`Segment ${seg.i + 1}: confirmed with inline codes missing`, "warn");
  await enqueue(seg, async () => {
    const data = await send(seg, "confirm", {target: text});
    update(data, true);
  });
  gotoNext(seg.i, (s) => s.status !== "confirmed" && !s.readonly && s.source.trim() !== "", 1, true);
}

async function machineTranslate(seg) {
  const editor = editorOf(seg.i);
  if (editor) editor.classList.add("busy");
  try {
    await enqueue(seg, async () => update(await send(seg, "translate", {}), true));
  } finally { if (editor) editor.classList.remove("busy"); }
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
  if (state.predictAbort) state.predictAbort.abort();
  state.predictAbort = null;
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
  abortPrediction();
  const controller = new AbortController();
  state.predictAbort = controller;
  try {
    data = await api("POST", "/v1/complete", {source: seg.source.trim(), prefix,
      alternatives: wordStart(prefix) ? 5 : 0,
      source_lang: state.doc.source_lang, target_lang: state.doc.target_lang}, false, controller.signal);
  } catch (err) { return; }  // aborted, or a prediction failed: a nicety, no error toast while typing
  finally { if (state.predictAbort === controller) state.predictAbort = null; }
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
  if (ev.key === "F1") { ev.preventDefault(); $("help-dialog").showModal(); }
  else if (ev.ctrlKey && (ev.key === "s" || ev.key === "S")) { ev.preventDefault(); save(); }
  else if (ev.ctrlKey && ev.shiftKey && (ev.key === "F" || ev.key === "f")) { ev.preventDefault(); $("search").focus(); }
  else if (ev.altKey && (ev.key === "p" || ev.key === "P")) { ev.preventDefault(); pretranslate(); }
});

// -- document actions -------------------------------------------------------------------------------------

async function flushAll() {
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
    $("job-text").textContent = `pre-translated ${job.total} segments`;
  } catch (err) { fail(err); } finally {
    button.disabled = false;
    setTimeout(() => { $("job").hidden = true; }, 1500);
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
  const active = state.active;
  applyFilter(keepPage);
  refreshProgress();
  if (active !== null && active < state.segments.length && rowOf(active)) {
    state.active = null;
    activate(active);
  } else {
    state.active = null;
  }
  document.body.classList.add("ready");
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
    $("btn-documents").hidden = !!data.review;
    $("btn-download").hidden = !!data.review;
    if (data.review) await loadDocument(data.review);
    else if (data.open.length === 1) await loadDocument(data.open[0].id);
    else await showDocuments();
  } catch (err) { fail(err); }
}

start();
