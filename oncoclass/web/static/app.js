// OncoClass page: vanilla JavaScript talking to the JSON API under v1/ (relative URLs, so the
// app also works behind a proxy that serves it under a path prefix). No library, no build step.
// Every value from the server or the user is inserted with textContent, never as HTML.
"use strict";

(() => {
  const API = "v1/";
  const HISTORY_PAGE_SIZE = 15;
  // CIViC evidence items per page; every page is reachable through GET v1/knowledge.
  const KNOWLEDGE_PAGE_SIZE = 10;
  // Disease groups of therapies shown before "show more" when no disease was entered.
  const THERAPY_GROUPS_SHOWN = 3;
  const FORM_FIELDS = ["gene", "variation", "disease", "drugs", "text"];
  const KEY_STORAGE = "oncoclass.apiKey";

  // Written for this page (not quoted from a paper): a short evidence summary whose answer is
  // what it says, a sensitivity to vemurafenib. A browser test checks the shipped model agrees;
  // a sentence about acquired resistance would make it a mixed (and misleading) example.
  const EXAMPLE = {
    gene: "BRAF",
    variation: "V600E",
    disease: "Melanoma",
    drugs: "Vemurafenib",
    text:
      "Patients with unresectable stage IIIC or IV melanoma whose tumours carried the BRAF " +
      "V600E mutation were treated with the BRAF inhibitor vemurafenib. " +
      "Most patients had measurable tumour shrinkage within the first weeks of treatment, and " +
      "progression-free survival was longer than with standard chemotherapy. " +
      "These observations support testing melanoma for BRAF V600E before a BRAF inhibitor " +
      "is chosen.",
  };

  const MATCH_EXPLAINED = {
    exact: (v) => `CIViC has evidence on exactly this variant (${v}).`,
    component: (v) =>
      `CIViC has evidence on ${v} only together with other variants (a combined molecular ` +
      "profile); read each item's profile.",
    position: (v) =>
      `CIViC has no evidence on ${v} itself; these items are about other changes at the same ` +
      "protein position, so read them with care.",
    type: (v) =>
      `CIViC has no evidence on ${v} or its position; these items are about variants of the ` +
      "same kind in this gene, so they are only indirectly relevant.",
    none: (v) => `CIViC has no evidence items on ${v}.`,
  };

  const MATCH_BADGES = {
    exact: "Exact match",
    component: "In a combined profile",
    position: "Same position",
    type: "Same kind of variant",
    none: "No match",
  };

  const EVIDENCE_LEVELS = {
    A: "A: validated association",
    B: "B: clinical evidence",
    C: "C: case study",
    D: "D: preclinical evidence",
    E: "E: inferential association",
  };

  // What each warning means for the reader, and what to do about it. The server's message says
  // what happened for this input; these add the same plain-words headline everywhere.
  const WARNINGS = {
    text_off_topic: {
      title: "The text may be about something else",
      advice: "Check that the text is about this gene and variation, or paste one that is.",
    },
    out_of_distribution: {
      title: "Unlike the training data",
      advice: "Read the text yourself and take the class as a hint at most.",
    },
    close_call: {
      title: "Close call",
      advice: "Consider every class under \"Cannot be ruled out\", not only the top one.",
    },
    unknown_gene: {
      title: "Gene not seen in training",
      advice: "Give the answer less weight, and check what CIViC says below.",
    },
    unknown_variation: {
      title: "Variation not seen in training",
      advice: "Check CIViC's evidence on the same position or kind of change below.",
    },
    no_text: {
      title: "No evidence text",
      advice: "Paste an abstract or a report excerpt for an answer about the evidence.",
    },
  };

  // The AMP/ASCO/CAP tiers (Li et al. 2017) and evidence levels, in plain words.
  const TIER_MEANING = {
    "Tier I": "strong clinical significance",
    "Tier II": "potential clinical significance",
    "Tier III": "unknown clinical significance",
    "Tier IV": "benign or likely benign",
  };
  const AMP_LEVEL_MEANING = {
    A: "approved therapy or professional guideline for this tumour type",
    B: "well-powered studies with expert consensus",
    C: "approved therapy in another tumour type, or several small studies",
    D: "preclinical studies or case reports",
  };
  // The batch summary's tier groups, in report order (oncoclass/annotate: by_tier).
  const TIER_ORDER = ["Tier I", "Tier II", "Tier III", "Tier IV", "none", "non-coding", "unknown"];
  const TIER_GROUP_LABELS = {
    none: "not tiered",
    "non-coding": "non-coding",
    unknown: "tier unknown",
  };

  const RELEVANCE = { same: "your disease", related: "related disease", other: "other disease" };
  const RELEVANCE_ORDER = ["same", "related", "other"];

  const $ = (id) => document.getElementById(id);

  // ---- small helpers ------------------------------------------------------------------------

  /** Build an element: h("p", {class: "x", text: "y"}, child, ...). Attribute values and text
   *  are set through the DOM, so server strings can never inject markup. */
  function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "style") {
        for (const [prop, v] of Object.entries(value)) el.style.setProperty(prop, v);
      } else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  /** Replace an element's children; null, undefined and false are left out (as in h()). */
  function fill(el, ...children) {
    const kept = children.flat().filter((c) => c !== null && c !== undefined && c !== false);
    el.replaceChildren(...kept);
    return el;
  }

  function percent(p) {
    const v = Number(p) * 100;
    if (!Number.isFinite(v)) return "–";
    if (v > 0 && v < 1) return "<1%";
    if (v > 99 && v < 100) return ">99%";
    return `${Math.round(v)}%`;
  }

  /** 0.9 -> "9 of 10", 0.95 -> "19 of 20": a coverage as people say it. */
  function coverageWords(c) {
    const v = Number(c);
    if (!(v > 0 && v < 1)) return null;
    for (let d = 2; d <= 100; d++) {
      const n = Math.round(v * d);
      if (Math.abs(n / d - v) < 1e-6) return `${n} of ${d}`;
    }
    return `${Math.round(v * 100)} of 100`;
  }

  function warningsOf(p) {
    if (Array.isArray(p.warnings)) return p.warnings;
    // A record without the list (an older API): rebuild it from the flags.
    return Object.keys(WARNINGS)
      .filter((code) => p.flags && p.flags[code])
      .map((code) => ({ code, severity: "warning", message: "" }));
  }

  /** Words for a confidence. "Close call" follows the server's flag, so they never disagree;
   *  and a high probability is not called "high confidence" when a warning says the input is
   *  not what the model can judge (text about another variant, unlike the training data). */
  function confidenceWords(p, flags = {}, warnings = []) {
    if (flags.close_call) return "close call";
    if (warnings.some((w) => w.severity !== "info")) return "model confidence: read the warning";
    return p >= 0.8 ? "high confidence" : "moderate confidence";
  }

  function formatDate(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function formatDay(iso) {
    if (!iso) return "";
    const d = new Date(`${String(iso).slice(0, 10)}T00:00:00`);
    if (Number.isNaN(d.getTime())) return String(iso);
    return d.toLocaleDateString(undefined, { dateStyle: "long" });
  }

  function humanize(s) {
    return String(s ?? "").replace(/[_-]+/g, " ").trim();
  }

  function plural(n, word, many = `${word}s`) {
    return `${Number(n).toLocaleString()} ${n === 1 ? word : many}`;
  }

  function splitDrugs(s) {
    return String(s || "")
      .split(/[,;]/)
      .map((d) => d.trim())
      .filter(Boolean);
  }

  function downloadBlob(content, filename, type) {
    const url = URL.createObjectURL(new Blob([content], { type }));
    const a = h("a", { href: url, download: filename, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  /** A CSV cell. Text starting with = + - @ tab or CR is what a spreadsheet runs as a formula
   *  (a sample named =HYPERLINK(...)): it gets a leading apostrophe, as the server's CSV does
   *  (oncoclass/api/batch.py, _safe_cell). Numbers are left alone. */
  function csvCell(v) {
    if (v === null || v === undefined) return "";
    let s = String(v);
    if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  }

  function toCsv(header, rows) {
    return [header, ...rows].map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
  }

  /** Say something to screen readers through the polite live region. */
  function announce(message) {
    const region = $("announce");
    region.textContent = "";
    // A fresh text node after a tick makes screen readers repeat an identical message.
    setTimeout(() => { region.textContent = message; }, 50);
  }

  function externalLink(href, text, className) {
    return h("a", { href, target: "_blank", rel: "noopener noreferrer", class: className },
      text, h("span", { class: "sr-only", text: " (opens in a new tab)" }));
  }

  // ---- the API, with the API key ------------------------------------------------------------

  class ApiError extends Error {
    constructor(message, status, fields = {}) {
      super(message);
      this.status = status;
      this.fields = fields; // {fieldName: message} from a 422
    }
  }

  /** Turn an error body into {message, fields}. Handles FastAPI's validation list
   *  ({detail: [{loc, msg}]}) and OncoClass's own ({detail: "...", field: "text"}). */
  function parseError(body, status) {
    const fields = {};
    let message = "";
    if (body && Array.isArray(body.detail)) {
      for (const item of body.detail) {
        const loc = Array.isArray(item.loc) ? item.loc : [];
        const field = [...loc].reverse().find((x) => typeof x === "string" && x !== "body");
        const msg = friendlyMessage(item.msg || "is not valid");
        if (field && !(field in fields)) fields[field] = msg;
        else if (!field) message = msg;
      }
    } else if (body && typeof body.detail === "string") {
      if (body.field) fields[body.field] = body.detail;
      else message = body.detail;
    } else if (typeof body === "string" && body.trim() && body.length < 300) {
      message = body.trim();
    }
    if (!message && !Object.keys(fields).length) {
      message =
        status >= 500
          ? "The server had a problem answering. Please try again in a moment."
          : `The request was not accepted (error ${status}).`;
    }
    return { message, fields };
  }

  function friendlyMessage(msg) {
    const m = String(msg);
    if (/^field required$/i.test(m)) return "This field is required.";
    return m.charAt(0).toUpperCase() + m.slice(1);
  }

  function detailOf(body) {
    return body && typeof body.detail === "string" ? body.detail : "";
  }

  /** Retry-After is seconds or an HTTP date; either becomes words. */
  function retryWords(value) {
    if (!value) return "in a moment";
    let seconds = Number(value);
    if (!Number.isFinite(seconds)) seconds = (Date.parse(value) - Date.now()) / 1000;
    if (!Number.isFinite(seconds) || seconds <= 0) return "in a moment";
    seconds = Math.ceil(seconds);
    return seconds < 90 ? `in ${plural(seconds, "second")}`
      : `in about ${plural(Math.ceil(seconds / 60), "minute")}`;
  }

  /** The errors of the access layer (403, 429) and every other refusal, as an ApiError. */
  function responseError(res) {
    const detail = detailOf(res.body);
    if (res.status === 403) {
      return new ApiError(
        "Your API key is not allowed to do this" + (detail ? ` (${detail})` : "") +
          ". Ask the server's administrator for a key with this permission.", 403);
    }
    if (res.status === 429) {
      return new ApiError(
        "Too many requests: the server limits how often a key may call it. " +
          `Try again ${retryWords(res.retryAfter)}.`, 429);
    }
    const { message, fields } = parseError(res.body, res.status);
    return new ApiError(message || Object.values(fields).join(" "), res.status, fields);
  }

  function storedKey() {
    try {
      return sessionStorage.getItem(KEY_STORAGE) || "";
    } catch {
      return ""; // storage disabled: the key then lives in memory only
    }
  }

  let memoryKey = "";
  function currentKey() {
    return storedKey() || memoryKey;
  }

  function saveKey(key) {
    memoryKey = key;
    try {
      if (key) sessionStorage.setItem(KEY_STORAGE, key);
      else sessionStorage.removeItem(KEY_STORAGE);
    } catch {
      // keep it in memory only
    }
    $("auth-forget").hidden = !key;
  }

  // One dialog at a time: the requests refused together wait for the same answer.
  let keyPrompt = null;

  function askForKey(serverMessage) {
    if (!keyPrompt) keyPrompt = openKeyDialog(serverMessage).finally(() => { keyPrompt = null; });
    return keyPrompt;
  }

  /** Resolves with the key typed, or null when the user cancels (button or Escape). */
  function openKeyDialog(serverMessage) {
    const dialog = $("auth-dialog");
    const input = $("api-key");
    const said = $("auth-server-message");
    const error = $("api-key-error");
    const opener = document.activeElement;
    said.textContent = serverMessage ? `The server said: ${serverMessage}` : "";
    said.hidden = !serverMessage;
    error.hidden = true;
    input.removeAttribute("aria-invalid");
    input.value = "";
    return new Promise((resolve) => {
      const done = (key) => {
        $("auth-form").removeEventListener("submit", onSubmit);
        $("auth-cancel").removeEventListener("click", onCancel);
        dialog.removeEventListener("cancel", onCancel);
        if (dialog.open) dialog.close();
        if (opener && typeof opener.focus === "function") opener.focus();
        resolve(key);
      };
      const onSubmit = (ev) => {
        ev.preventDefault();
        const key = input.value.trim();
        if (!key) {
          error.textContent = "Enter the API key, or choose Cancel.";
          error.hidden = false;
          input.setAttribute("aria-invalid", "true");
          input.focus();
          return;
        }
        done(key);
      };
      const onCancel = (ev) => {
        ev.preventDefault();
        done(null);
      };
      $("auth-form").addEventListener("submit", onSubmit);
      $("auth-cancel").addEventListener("click", onCancel);
      dialog.addEventListener("cancel", onCancel); // Escape
      dialog.showModal();
      input.focus();
    });
  }

  /** Send a request (``send(key)`` resolves with {status, body, retryAfter}) with the API key;
   *  on 401 ask for a key, keep it for the tab and send again. */
  async function withKey(send) {
    for (;;) {
      const key = currentKey();
      const res = await send(key);
      if (res.status !== 401) {
        if (res.status >= 200 && res.status < 300) return res.body;
        throw responseError(res);
      }
      // Another request may have got a new key while this one was on its way: use it.
      if (currentKey() && currentKey() !== key) continue;
      if (key) saveKey(""); // the key sent was refused: forget it
      const typed = await askForKey(detailOf(res.body));
      if (!typed) {
        throw new ApiError(
          "This server needs an API key. Enter one when asked, or ask the administrator.", 401);
      }
      saveKey(typed);
    }
  }

  async function readBody(response) {
    const type = response.headers.get("content-type") || "";
    if (type.includes("json")) return response.json().catch(() => null);
    return response.text().catch(() => "");
  }

  async function api(path, { method = "GET", json } = {}) {
    return withKey(async (key) => {
      const init = { method, headers: { Accept: "application/json" } };
      if (key) init.headers["X-API-Key"] = key;
      if (json !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(json);
      }
      let response;
      try {
        response = await fetch(API + path, init);
      } catch {
        throw new ApiError("The server could not be reached. Check the connection and retry.", 0);
      }
      return {
        status: response.status,
        body: await readBody(response),
        retryAfter: response.headers.get("retry-after"),
      };
    });
  }

  $("auth-forget").addEventListener("click", () => {
    saveKey("");
    announce("The API key was forgotten.");
  });
  $("auth-forget").hidden = !currentKey();

  // ---- tabs (WAI-ARIA tabs pattern: arrow keys move, Enter/Space activate) -----------------

  const tabs = [...document.querySelectorAll('[role="tab"]')];

  function selectTab(tab, { focus = true } = {}) {
    for (const t of tabs) {
      const selected = t === tab;
      t.setAttribute("aria-selected", String(selected));
      t.tabIndex = selected ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
    if (tab.id === "tab-history") loadHistory();
    const hash = `#${tab.id.replace("tab-", "")}`;
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab));
    tab.addEventListener("keydown", (ev) => {
      const i = tabs.indexOf(tab);
      const next = {
        ArrowRight: tabs[(i + 1) % tabs.length],
        ArrowLeft: tabs[(i - 1 + tabs.length) % tabs.length],
        Home: tabs[0],
        End: tabs[tabs.length - 1],
      }[ev.key];
      if (next) {
        ev.preventDefault();
        selectTab(next);
      }
    });
  }

  // ---- the form -----------------------------------------------------------------------------

  const form = $("predict-form");
  const textArea = $("text");
  // The server's limit (GET /v1/model, limits.max_text_chars) replaces this default.
  let MAX_TEXT_CHARS = Number(textArea.dataset.maxChars) || 300000;

  function setFieldError(name, message) {
    const input = $(name);
    const slot = $(`${name}-error`);
    if (!input || !slot) return false;
    slot.textContent = message;
    slot.hidden = !message;
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    return true;
  }

  function showFormError(message) {
    const slot = $("form-error");
    slot.textContent = message || "";
    slot.hidden = !message;
    if (message) slot.setAttribute("role", "alert");
    else slot.removeAttribute("role");
  }

  function clearErrors() {
    for (const f of FORM_FIELDS) setFieldError(f, "");
    showFormError("");
  }

  /** Show {field: message}; messages for unknown fields go to the form-level slot.
   *  Focus moves to the first faulty field so keyboard users land on it. */
  function showErrors(fields, general = "") {
    const orphans = [];
    let first = null;
    for (const [name, message] of Object.entries(fields)) {
      if (setFieldError(name, message)) first = first || $(name);
      else orphans.push(`${humanize(name)}: ${message}`);
    }
    showFormError([general, ...orphans].filter(Boolean).join(" "));
    if (first) announce(Object.values(fields).join(" "));
    if (first) first.focus();
  }

  function readForm() {
    return {
      gene: $("gene").value.trim(),
      variation: $("variation").value.trim(),
      disease: $("disease").value.trim(),
      drugs: splitDrugs($("drugs").value),
      text: textArea.value,
    };
  }

  function validate(input) {
    const errors = {};
    if (!input.gene) errors.gene = "Enter the gene, for example TP53.";
    if (!input.variation) errors.variation = "Enter the variation, for example R273C.";
    if (input.text.length > MAX_TEXT_CHARS) {
      errors.text =
        `The text has ${input.text.length.toLocaleString()} characters; ` +
        `the limit is ${MAX_TEXT_CHARS.toLocaleString()}. Paste the relevant part only.`;
    }
    return errors;
  }

  function updateCount() {
    const n = textArea.value.length;
    const el = $("text-count");
    el.textContent =
      `${n.toLocaleString()} of ${MAX_TEXT_CHARS.toLocaleString()} characters` +
      (n > MAX_TEXT_CHARS ? " (too long)" : "");
    el.classList.toggle("over", n > MAX_TEXT_CHARS);
  }

  textArea.addEventListener("input", updateCount);
  // Enter submits from the one-line fields (native); in the text box Ctrl/Cmd+Enter does.
  textArea.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  for (const f of ["gene", "variation"]) {
    $(f).addEventListener("input", () => setFieldError(f, ""));
  }

  $("text-file").addEventListener("change", () => {
    const file = $("text-file").files[0];
    if (!file) return;
    setFieldError("text", "");
    if (file.size > MAX_TEXT_CHARS * 4) {
      setFieldError("text", `${file.name} is too large for the evidence text.`);
      return;
    }
    const reader = new FileReader();
    reader.onload = () => {
      textArea.value = String(reader.result || "");
      updateCount();
      if (textArea.value.length > MAX_TEXT_CHARS) showErrors(validate(readForm()));
    };
    reader.onerror = () => setFieldError("text", `${file.name} could not be read.`);
    reader.readAsText(file);
  });

  $("load-example").addEventListener("click", () => {
    for (const [k, v] of Object.entries(EXAMPLE)) $(k).value = v;
    $("text-file").value = "";
    clearErrors();
    updateCount();
    $("gene").focus();
  });

  $("clear-form").addEventListener("click", () => {
    form.reset();
    clearErrors();
    updateCount();
    $("gene").focus();
  });

  function setBusy(busy) {
    const button = $("submit-button");
    button.disabled = busy;
    button.textContent = busy ? "Classifying…" : "Classify";
    button.classList.toggle("busy", busy);
    $("result").setAttribute("aria-busy", String(busy));
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    const input = readForm();
    const errors = validate(input);
    if (Object.keys(errors).length) {
      showErrors(errors);
      return;
    }
    const payload = { gene: input.gene, variation: input.variation };
    if (input.disease) payload.disease = input.disease;
    if (input.drugs.length) payload.drugs = input.drugs;
    if (input.text.trim()) payload.text = input.text;
    setBusy(true);
    try {
      const prediction = await api("predict", { method: "POST", json: payload });
      renderPrediction(prediction, input);
      historyState.stale = true;
    } catch (err) {
      showErrors(err.fields || {}, err.message);
    } finally {
      setBusy(false);
    }
  });

  // ---- the result ---------------------------------------------------------------------------

  function section(title, ...children) {
    return h("section", { class: "result-section" }, h("h3", { text: title }), ...children);
  }

  /** Show a prediction (POST /v1/predict or GET /v1/predictions/{id}): the API echoes the
   *  inputs (gene, variation, disease, text); ``input`` is what the form sent, if any. */
  function renderPrediction(p, input = {}) {
    const gene = p.gene || input.gene || "";
    const variation = typeof p.variation === "string" ? p.variation : input.variation || "";
    const disease = p.disease ?? input.disease ?? "";
    const text = p.text ?? input.text ?? "";
    const subject = [gene, variation].filter(Boolean).join(" ");
    const warnings = warningsOf(p);

    const card = h(
      "article",
      { class: "card result-card", "aria-labelledby": "result-heading" },
      h(
        "header",
        { class: "result-head" },
        h("p", { class: "eyebrow", text: [subject, disease].filter(Boolean).join(" · ") }),
        h(
          "h2",
          { id: "result-heading", tabindex: "-1" },
          h("span", { class: "sr-only", text: "Predicted class: " }),
          h("span", { class: "predicted-class", text: p.name || p.label }),
        ),
        h(
          "p",
          { class: "confidence" },
          h("span", { class: "confidence-value", text: percent(p.probability) }),
          ` ${confidenceWords(p.probability, p.flags, warnings)}`,
        ),
        renderGroup(p.group),
        renderWarningBadges(warnings),
      ),
      renderSet(p.prediction_set, p.label),
      renderWarnings(warnings),
      section("Probability of each class", renderBars(p.probabilities || [], p.label)),
      section("Evidence that drove the prediction", renderEvidence(text, p.evidence || [])),
      renderVariation({ raw: variation, ...(p.parsed_variation || {}) }),
      h(
        "footer",
        { class: "result-foot" },
        [
          p.id !== undefined && p.id !== null ? `Saved as prediction #${p.id}` : "",
          p.created_at ? formatDate(p.created_at) : "",
          p.model ? `${p.model.name} ${p.model.version}` : "",
        ]
          .filter(Boolean)
          .join(" · "),
      ),
    );
    const query = { gene, variation, disease, therapies: p.drugs || input.drugs || [] };
    const knowledge = renderKnowledge(p.knowledge, query);
    $("result").replaceChildren(card, ...(knowledge ? [knowledge] : []));
    const said = warnings.map((w) => (WARNINGS[w.code] || {}).title || humanize(w.code));
    announce(`Predicted ${p.name || p.label}, ${percent(p.probability)} confidence.` +
      (said.length ? ` Warnings: ${said.join("; ")}.` : " No warnings."));
    card.querySelector("#result-heading").focus({ preventScroll: true });
    if (window.matchMedia("(max-width: 960px)").matches) card.scrollIntoView();
  }

  /** The coarse level of the answer (CIViC: the evidence type), e.g. "Evidence type:
   *  Predictive, 99%". */
  function renderGroup(group) {
    if (!group || !group.label) return null;
    const title = group.title ? humanize(group.title) : "level";
    return h("p", { class: "group" },
      h("span", { class: "muted", text: `${title.charAt(0).toUpperCase()}${title.slice(1)}: ` }),
      h("span", { class: "strong group-label", text: group.label }),
      h("span", { class: "muted", text: ` (${percent(group.probability)} likely)` }));
  }

  /** The one-line summary under the class: a badge per warning, or "No warnings" when (and
   *  only when) the server gave none. */
  function renderWarningBadges(warnings) {
    return h("ul", { class: "badges", "aria-label": "Warnings" },
      warnings.length
        ? warnings.map((w) => h("li", {
          class: `badge ${w.severity === "info" ? "info" : "warn"}`, "data-code": w.code },
        h("span", { class: "badge-icon", "aria-hidden": "true", text: w.severity === "info"
          ? "i" : "!" }),
        (WARNINGS[w.code] || {}).title || humanize(w.code)))
        : h("li", { class: "badge ok", id: "no-warnings", text: "No warnings" }));
  }

  /** The prediction set: the classes that cannot be ruled out, with its coverage in words. */
  function renderSet(set, predicted) {
    if (!set) return null;
    const names = set.names?.length ? set.names : set.labels || [];
    const words = coverageWords(set.coverage);
    const parts = [];
    if (!words) {
      parts.push(h("p", { class: "muted", text: "This model gives no calibrated list of the " +
        "classes that cannot be ruled out; use the probabilities below with care." }));
    } else if (!names.length) {
      parts.push(h("p", { text: "No class could be kept with the stated certainty: the " +
        "evidence fits none of them well." }));
    } else {
      parts.push(
        h("ul", { class: "set-list", "aria-label": "Classes that cannot be ruled out" },
          names.map((name, i) => h("li", {
            class: (set.labels || [])[i] === predicted ? "set-item predicted" : "set-item",
            text: name }))),
        h("p", { class: "set-coverage" },
          names.length === 1
            ? `Only this class cannot be ruled out. The right class is in this list for ${words} ` +
              "cases like this."
            : `These ${names.length} classes cannot be ruled out. The right class is in this ` +
              `list for ${words} cases like this, so do not rely on the top one alone.`),
      );
    }
    return h("section", { class: "result-section prediction-set" },
      h("h3", { text: "Cannot be ruled out" }), ...parts);
  }

  /** Every warning with what it means and what to do; or "No warnings". */
  function renderWarnings(warnings) {
    if (!warnings.length) {
      return section("Warnings", h("p", { class: "no-warnings", text: "None: nothing in this " +
        "input called for caution. The answer can still be wrong; read the evidence below." }));
    }
    return section("Warnings", h("ul", { class: "warnings" }, warnings.map((w) => {
      const info = WARNINGS[w.code] || { title: humanize(w.code), advice: "" };
      const kind = w.severity === "info" ? "info" : "warn";
      return h("li", { class: `warning ${kind}`, "data-code": w.code },
        h("p", { class: "warning-title" },
          h("span", { class: "warning-kind", text: kind === "info" ? "Note: " : "Warning: " }),
          info.title),
        w.message ? h("p", { class: "warning-message", text: w.message }) : null,
        info.advice ? h("p", { class: "warning-advice", text: `What to do: ${info.advice}` })
          : null);
    })));
  }

  function renderBars(probabilities, predicted) {
    const sorted = [...probabilities].sort((a, b) => b.probability - a.probability);
    return h(
      "ul",
      { class: "bars", "aria-label": "Probability of each class, highest first" },
      sorted.map((c) =>
        h(
          "li",
          { class: c.label === predicted ? "bar predicted" : "bar", "data-label": c.label },
          h("span", { class: "bar-name", text: c.name || c.label }),
          h(
            "span",
            { class: "bar-track", "aria-hidden": "true" },
            h("span", {
              class: "bar-fill",
              style: { width: `${Math.max(0, Math.min(1, c.probability)) * 100}%` },
            }),
          ),
          h("span", { class: "bar-value", text: percent(c.probability) }),
        ),
      ),
    );
  }

  /** Locate each evidence span in the text: by its offsets when they match, else by search. */
  function placeSpans(text, spans) {
    const placed = [];
    for (const s of spans) {
      let start = Number(s.start);
      let end = Number(s.end);
      if (!(text.slice(start, end) === s.text)) {
        start = text.indexOf(s.text);
        end = start + String(s.text).length;
      }
      if (start < 0 || !s.text) continue;
      placed.push({ ...s, start, end });
    }
    placed.sort((a, b) => a.start - b.start);
    return placed.filter((s, i) => i === 0 || s.start >= placed[i - 1].end);
  }

  function spanTitle(w) {
    const points = (Math.abs(w) * 100).toFixed(1);
    const signed = `${w >= 0 ? "+" : "−"}${Math.abs(w).toFixed(3)}`;
    if (w > 0) {
      return `Supports the prediction (weight ${signed}): without this sentence the ` +
        `confidence would fall by ${points} points.`;
    }
    if (w < 0) {
      return `Argues against the prediction (weight ${signed}): without this sentence the ` +
        `confidence would rise by ${points} points.`;
    }
    return "Read by the model, with no effect on this prediction (weight 0).";
  }

  function renderEvidence(text, spans) {
    if (!spans.length) {
      return h("p", {
        class: "muted",
        text: text.trim()
          ? "No sentence of the text was used for this prediction."
          : "No evidence text was given, so the prediction rests on the gene and variation " +
            "alone. Adding an abstract or report excerpt usually helps.",
      });
    }
    const maxAbs = Math.max(...spans.map((s) => Math.abs(Number(s.weight) || 0)), 1e-9);
    const mark = (s) => {
      const w = Number(s.weight) || 0;
      const kind = w > 0 ? "pos" : w < 0 ? "neg" : "zero";
      return h(
        "mark",
        {
          class: `ev ${kind}`,
          title: spanTitle(w),
          "data-weight": w.toFixed(4),
          style: { "--strength": (0.1 + 0.38 * (Math.abs(w) / maxAbs)).toFixed(3) },
        },
        s.text,
      );
    };

    const placed = text ? placeSpans(text, spans) : [];
    let body;
    if (placed.length) {
      body = h("div", { class: "evidence-text" });
      let at = 0;
      for (const s of placed) {
        if (s.start > at) body.append(text.slice(at, s.start));
        body.append(mark(s));
        at = s.end;
      }
      if (at < text.length) body.append(text.slice(at));
    } else {
      // No full text at hand (e.g. an old prediction): list the sentences themselves.
      body = h("div", { class: "evidence-text" }, spans.flatMap((s) => [mark(s), " "]));
    }
    const legend = h(
      "p",
      { class: "legend" },
      h("span", { class: "swatch pos", "aria-hidden": "true" }),
      " supports the predicted class ",
      h("span", { class: "swatch neg", "aria-hidden": "true" }),
      " argues against it. Stronger colour means a larger effect; point at a sentence to see " +
        "its weight.",
    );
    return h("div", {}, legend, body);
  }

  const VARIATION_FIELDS = [
    ["raw", "As entered"],
    ["normalized", "Standard form"],
    ["type", "Kind of change"],
    ["ref", "Reference amino acid"],
    ["position", "Protein position"],
    ["end_position", "End position"],
    ["alt", "Changed to"],
    ["exon", "Exon"],
    ["partners", "Fusion partners"],
    ["aliases", "Also written as"],
  ];

  function renderVariation(v) {
    if (!v || typeof v !== "object") return null;
    const shown = (x) =>
      Array.isArray(x) ? x.length > 0 : ["string", "number"].includes(typeof x) && x !== "";
    const text = (k, x) => (Array.isArray(x) ? x.join(", ") : k === "type" ? humanize(x) : x);
    const labels = new Map(VARIATION_FIELDS);
    // Known fields in a fixed order, then whatever else this API version adds.
    const keys = [...labels.keys(), ...Object.keys(v).filter((k) => !labels.has(k) && k !== "gene")];
    const rows = keys
      .filter((k) => shown(v[k]))
      .map((k) => [labels.get(k) || humanize(k).replace(/^./, (c) => c.toUpperCase()), text(k, v[k])]);
    if (!rows.length) return null;
    return section(
      "How the variation was read",
      h("dl", { class: "variation" }, rows.map(([k, x]) =>
        h("div", { class: String(x).length > 24 ? "wide" : null },
          h("dt", { text: k }), h("dd", { text: String(x) })))),
    );
  }

  // ---- the knowledge base (CIViC) -------------------------------------------------------------

  function tierClass(tier) {
    const roman = /^Tier (IV|III|II|I)\b/.exec(tier || "");
    return roman ? `tier-${roman[1].toLowerCase()}` : "tier-none";
  }

  /** The AMP/ASCO/CAP tier with what it means and where it comes from. */
  function renderTier(tier) {
    if (!tier) return null;
    if (!tier.tier || tier.tier === "none") {
      return h("div", { class: "tier-box tier-none" },
        h("p", {}, h("span", { class: "strong", text: "Not tiered. " }),
          tier.explanation || "CIViC has no evidence on this gene."));
    }
    const meaning = [TIER_MEANING[tier.tier], AMP_LEVEL_MEANING[tier.level]
      ? `level ${tier.level}: ${AMP_LEVEL_MEANING[tier.level]}` : ""].filter(Boolean).join("; ");
    const basis = tier.basis === "assertion"
      ? "From a CIViC expert assertion"
      : "Derived by OncoClass from CIViC evidence levels (no CIViC assertion tiers it here)";
    return h("div", { class: `tier-box ${tierClass(tier.tier)}` },
      h("p", { class: "tier-line" },
        h("span", { class: "sr-only", text: "AMP/ASCO/CAP tier: " }),
        h("span", { class: "tier-badge", text: tier.label || tier.tier }),
        meaning ? h("span", { class: "tier-meaning", text: meaning }) : null),
      h("p", { class: "tier-basis" },
        h("span", { class: "strong", text: basis }),
        tier.disease ? ` · for ${tier.disease}` : ""),
      tier.explanation ? h("p", { class: "muted tier-explanation", text: tier.explanation })
        : null);
  }

  function yesNo(value) {
    return value === true ? "Yes" : value === false ? "No" : "Not stated";
  }

  function relevanceTag(relevance) {
    return RELEVANCE[relevance]
      ? h("span", { class: `tag rel-${relevance}`, text: RELEVANCE[relevance] }) : null;
  }

  /** CIViC assertions: curated claims with their tier, approvals and guideline. */
  function renderAssertions(assertions) {
    if (!assertions?.length) return null;
    return h("div", { class: "kb-block" },
      h("h4", { text: `Assertions (${assertions.length})` }),
      h("ul", { class: "assertions" }, assertions.map((a) => h("li", { class: "assertion" },
        h("p", { class: "assertion-head" },
          a.amp_category ? h("span", { class: `tier-badge small ${tierClass(a.amp_tier)}`,
            text: a.amp_category }) : null,
          h("span", { class: "strong", text: [a.significance, a.disease && `in ${a.disease}`]
            .filter(Boolean).join(" ") }),
          relevanceTag(a.disease_relevance)),
        a.therapies?.length ? h("p", { text: `Therapies: ${a.therapies.join(" + ")}` }) : null,
        a.assertion_direction && a.assertion_direction !== "Supports"
          ? h("p", { class: "muted", text: `Direction: ${a.assertion_direction}` }) : null,
        h("dl", { class: "facts" },
          h("div", {}, h("dt", { text: "FDA companion test" }),
            h("dd", { text: yesNo(a.fda_companion_test) })),
          h("div", {}, h("dt", { text: "Regulatory approval" }),
            h("dd", { text: yesNo(a.regulatory_approval) })),
          h("div", {}, h("dt", { text: "NCCN guideline" }),
            h("dd", { text: a.nccn_guideline
              ? [a.nccn_guideline,
                a.nccn_guideline_version && `version ${a.nccn_guideline_version}`]
                .filter(Boolean).join(", ")
              : "None" })),
          a.acmg_codes?.length ? h("div", {}, h("dt", { text: "ACMG codes" }),
            h("dd", { text: a.acmg_codes.join(", ") })) : null),
        a.civic_url ? externalLink(a.civic_url, `CIViC assertion AID${a.assertion_id}`) : null,
        a.summary ? h("details", {}, h("summary", { text: "Summary" }), h("p", { text: a.summary }))
          : null))));
  }

  function responseKind(response) {
    const r = String(response || "").toLowerCase();
    if (r.includes("resist")) return "resistance";
    if (r.includes("reduced")) return "reduced";
    if (r.includes("sensitiv") || r.includes("response")) return "sensitivity";
    return "other";
  }

  const RESPONSE_ICONS = { sensitivity: "▲", resistance: "✕", reduced: "▽", other: "•" };

  function therapyItem(t) {
    const kind = responseKind(t.response);
    const level = EVIDENCE_LEVELS[t.best_level] || t.best_level;
    return h("li", { class: `therapy therapy-${kind}`, "data-response": kind },
      h("span", { class: "therapy-name", text: t.therapy }),
      h("span", { class: `resp resp-${kind}` },
        h("span", { "aria-hidden": "true", text: `${RESPONSE_ICONS[kind]} ` }),
        t.response ? t.response.charAt(0).toUpperCase() + t.response.slice(1) : "Unknown"),
      h("span", { class: "therapy-level", title: level ? `Best evidence level ${level}` : null },
        "Level ", h("span", { class: "level", text: t.best_level || "–" })),
      h("span", { class: "muted therapy-count",
        text: plural(t.n_items, "item") + (t.variant_alone === false
          ? " · needs another variant too" : "") }));
  }

  /** Therapies grouped by disease: your disease first, then related, then the others. */
  function renderTherapies(therapies) {
    if (!therapies?.length) return null;
    const groups = new Map();
    for (const t of therapies) {
      const key = t.disease || "Disease not stated";
      if (!groups.has(key)) {
        groups.set(key, { disease: key, relevance: t.disease_relevance, items: [] });
      }
      groups.get(key).items.push(t);
    }
    const rank = (g) => {
      const i = RELEVANCE_ORDER.indexOf(g.relevance);
      return i < 0 ? RELEVANCE_ORDER.length : i;
    };
    const ordered = [...groups.values()].sort((a, b) => rank(a) - rank(b)); // stable: server order
    const block = (g) => h("section", { class: "therapy-group" },
      h("h5", {}, g.disease, " ", relevanceTag(g.relevance)),
      h("ul", { class: "therapies" }, g.items.map(therapyItem)));
    // Evidence in other diseases matters less: folded, unless nothing else is there.
    const anyRelevance = ordered.some((g) => g.relevance);
    let shown = ordered.filter((g) => g.relevance === "same" || g.relevance === "related");
    if (!anyRelevance || !shown.length) shown = ordered.slice(0, THERAPY_GROUPS_SHOWN);
    const rest = ordered.filter((g) => !shown.includes(g));
    return h("div", { class: "kb-block" },
      h("h4", { text: "Therapies" }),
      h("p", { class: "legend" },
        h("span", { class: "resp resp-sensitivity", text: "▲ Sensitivity" }), " the variant " +
          "predicts a response; ",
        h("span", { class: "resp resp-resistance", text: "✕ Resistance" }), " it predicts no " +
          "response. Level: the best CIViC evidence level (A validated … E inferential)."),
      shown.map(block),
      rest.length ? h("details", { class: "more-therapies" },
        h("summary", { text: `Therapies in ${plural(rest.length, "other disease")}` }),
        rest.map(block)) : null);
  }

  function knowledgeRow(it, query) {
    const joiner = it.therapy_interaction === "Combination" ? " + " : ", ";
    const level = EVIDENCE_LEVELS[it.evidence_level] || it.evidence_level || "";
    const rating = it.rating ? `; rated ${it.rating} of 5` : "";
    const pubmed = it.pubmed_url
      || (it.pubmed_id ? `https://pubmed.ncbi.nlm.nih.gov/${it.pubmed_id}/` : null);
    const sourceLink = pubmed
      ? externalLink(pubmed, it.citation || `PubMed ${it.pubmed_id}`, "pubmed") : null;
    const asked = `${query.gene} ${query.variation}`.trim().toUpperCase();
    const profile = it.molecular_profile || `${it.gene || ""} ${it.variant || ""}`.trim();
    const kind = responseKind(it.clinical_significance);
    return h(
      "tr",
      { "data-eid": it.evidence_id },
      h("td", { "data-label": "Disease" },
        h("span", { class: "strong", text: it.disease || "–" }),
        relevanceTag(it.disease_relevance),
        // Name the profile when it is not exactly the variant asked about.
        profile && profile.toUpperCase() !== asked
          ? h("span", { class: "sub", text: profile }) : null),
      h("td", { "data-label": "Therapies", text: (it.therapies || []).join(joiner) || "–" }),
      h("td", { "data-label": "Significance" },
        // Coloured as a response only when the item supports it ("does not support" is not).
        h("span", { class: it.evidence_type === "Predictive" && it.evidence_direction === "Supports"
          ? `resp resp-${kind}` : null, text: it.clinical_significance || "–" }),
        h("span", { class: "sub", text: [it.evidence_type && `${it.evidence_type} evidence`,
          it.evidence_direction && it.evidence_direction.toLowerCase()].filter(Boolean)
          .join(", ") })),
      h("td", { "data-label": "Level", class: "center",
        title: level ? `Level ${level}${rating}` : null },
        h("span", { class: "level", text: it.evidence_level || "–" }),
        h("span", { class: "sr-only", text: level ? ` (${level}${rating})` : "" })),
      h("td", { "data-label": "Source" },
        h("span", { class: "links" },
          sourceLink || h("span", { class: "muted", text: it.citation || it.source_type || "–" }),
          it.civic_url ? externalLink(it.civic_url, `CIViC EID${it.evidence_id}`) : null),
        it.statement ? h("details", {}, h("summary", { text: "Summary" }),
          h("p", { text: it.statement })) : null),
    );
  }

  function knowledgeParams(query, offset, limit) {
    const params = new URLSearchParams({ gene: query.gene, variation: query.variation });
    if (query.disease) params.set("disease", query.disease);
    for (const t of query.therapies || []) params.append("therapies", t);
    params.set("limit", String(limit));
    params.set("offset", String(offset));
    return params;
  }

  /** The ranked CIViC items, every one reachable: pages through GET v1/knowledge. The answer
   *  already holds the first items; later pages are asked for. */
  function renderEvidenceItems(k, query) {
    const total = k.total ?? (k.items || []).length;
    if (!total) return null;
    const have = (k.offset || 0) === 0 ? k.items || [] : [];
    const tbody = h("tbody");
    const range = h("span", { class: "status items-range", "aria-live": "polite" });
    const status = h("p", { class: "status items-status", hidden: true });
    const prev = h("button", { type: "button", class: "items-prev", text: "Previous" });
    const next = h("button", { type: "button", class: "items-next", text: "Next" });
    const wrap = h("div", { class: "table-wrap" },
      h("table", { class: "data-table knowledge stack" },
        h("caption", { class: "sr-only", text: "CIViC evidence items, most relevant first" }),
        h("thead", {}, h("tr", {}, ["Disease", "Therapies", "Significance and evidence type",
          "Level", "Source"].map((c) => h("th", { scope: "col", text: c })))),
        tbody));
    let offset = 0;

    function show(items) {
      tbody.replaceChildren(...items.map((it) => knowledgeRow(it, query)));
      range.textContent = `Items ${offset + 1}–${offset + items.length} of ${total}`;
      prev.disabled = offset <= 0;
      next.disabled = offset + items.length >= total;
    }

    async function go(to) {
      const end = Math.min(to + KNOWLEDGE_PAGE_SIZE, total);
      if (end <= have.length) {
        offset = to;
        show(have.slice(to, end));
        return;
      }
      wrap.setAttribute("aria-busy", "true");
      prev.disabled = next.disabled = true;
      status.hidden = true;
      try {
        const page = await api(`knowledge?${knowledgeParams(query, to, KNOWLEDGE_PAGE_SIZE)}`);
        offset = to;
        show(page.items || []);
      } catch (err) {
        status.textContent = `The next items could not be loaded. ${err.message}`;
        status.hidden = false;
        prev.disabled = offset <= 0;
        next.disabled = false;
      } finally {
        wrap.removeAttribute("aria-busy");
      }
    }

    prev.addEventListener("click", () => go(Math.max(0, offset - KNOWLEDGE_PAGE_SIZE)));
    next.addEventListener("click", () => go(offset + KNOWLEDGE_PAGE_SIZE));
    if (have.length >= Math.min(KNOWLEDGE_PAGE_SIZE, total)) {
      show(have.slice(0, KNOWLEDGE_PAGE_SIZE));
    } else {
      go(0);
    }
    const ranked = [query.disease, ...(query.therapies || [])].filter(Boolean);
    return h("div", { class: "kb-block evidence-items" },
      h("h4", { text: `Evidence items (${total})` }),
      h("p", { class: "legend", text: ranked.length
        ? `Ranked for ${ranked.join(", ")}: that disease and those drugs first, then the ` +
          "evidence level (A first) and rating."
        : "Ranked by evidence level (A first) and rating. Enter a disease to rank it first." }),
      wrap, status,
      h("nav", { class: "pager", "aria-label": "Evidence item pages" }, prev, range, next));
  }

  /** The link to the variant's page on CIViC: its own molecular profile if anything matched
   *  exactly. */
  function profileLink(k, subject) {
    const exact = [...(k.assertions || []), ...(k.items || [])]
      .find((x) => x.match === "exact" && x.molecular_profile_url);
    const href = exact?.molecular_profile_url || k.profile_url;
    if (!href) return null;
    return h("p", { class: "profile-link" }, externalLink(href,
      `${exact?.molecular_profile || subject} on CIViC`, "civic-profile"));
  }

  /** Everything CIViC says about the variant, as elements (the card or a batch detail wraps
   *  them). ``query`` is what was asked: gene, variation, disease, therapies. */
  function knowledgeParts(k, query) {
    const subject = `${query.gene} ${query.variation}`.trim() || "this variant";
    const release = k.release_date || k.release
      ? h("p", { class: "kb-release muted" }, "CIViC release ",
        h("span", { class: "strong", text: k.release || "" }),
        k.release_date ? ` (${formatDay(k.release_date)})` : "")
      : null;
    if (k.available === false) {
      return [h("div", { class: "notice error kb-unavailable", role: "note" },
        h("p", { class: "strong", text: "The knowledge base is unavailable on this server." }),
        h("p", { text: (k.reason ? `Reason: ${k.reason}. ` : "") + "Nothing could be looked " +
          "up, so this does not mean that CIViC has no evidence on this variant." }))];
    }
    const match = k.match || "none";
    return [
      release,
      renderTier(k.tier),
      h("p", { class: `match match-${match}` },
        h("span", { class: "badge subtle", text: MATCH_BADGES[match] || match }), " ",
        (MATCH_EXPLAINED[match] || MATCH_EXPLAINED.none)(subject)),
      profileLink(k, subject),
      renderAssertions(k.assertions),
      renderTherapies(k.therapies),
      renderEvidenceItems(k, query),
    ];
  }

  function renderKnowledge(k, query) {
    if (!k) return null;
    return h("article", { class: "card kb-card", "aria-labelledby": "kb-heading" },
      h("h2", { id: "kb-heading", text: "What the knowledge base (CIViC) says" }),
      ...knowledgeParts(k, query));
  }

  // ---- history ------------------------------------------------------------------------------

  const historyState = { offset: 0, total: 0, gene: "", stale: true, items: [] };

  async function loadHistory({ force = false } = {}) {
    if (!historyState.stale && !force) return;
    const params = new URLSearchParams({ limit: HISTORY_PAGE_SIZE, offset: historyState.offset });
    if (historyState.gene) params.set("gene", historyState.gene);
    $("history-status").textContent = "Loading…";
    try {
      const page = await api(`predictions?${params}`);
      historyState.items = page.items || [];
      historyState.total = page.total ?? historyState.items.length;
      historyState.stale = false;
      renderHistory();
    } catch (err) {
      $("history-status").textContent = `The history could not be loaded. ${err.message}`;
    }
  }

  function warningTitles(p) {
    return warningsOf(p).map((w) => (WARNINGS[w.code] || {}).title || humanize(w.code));
  }

  function renderHistory() {
    const { items, total, offset, gene } = historyState;
    const tbody = $("history-table").querySelector("tbody");
    tbody.replaceChildren(
      ...items.map((it) => {
        const view = h("button", { type: "button", class: "link", text: "View",
          "aria-label": `View ${it.gene} ${it.variation}` });
        const titles = warningTitles(it);
        const row = h(
          "tr",
          { class: "clickable" },
          h("td", { "data-label": "When" }, formatDate(it.created_at), it.source === "batch"
            ? h("span", { class: "sub", text: "from a batch upload" }) : null),
          h("td", { "data-label": "Gene", class: "strong", text: it.gene }),
          h("td", { "data-label": "Variation", text: it.variation }),
          h("td", { "data-label": "Disease", text: it.disease || "–" }),
          h("td", { "data-label": "Class", text: it.name || it.label }),
          h("td", { "data-label": "Confidence", class: "num", text: percent(it.probability) }),
          h("td", { "data-label": "Warnings", class: titles.length ? "warn-text" : "muted",
            text: titles.join("; ") || "None" }),
          h("td", { "data-label": "" }, view),
        );
        row.addEventListener("click", () => showHistoryItem(it));
        return row;
      }),
    );
    $("history-status").textContent = total
      ? ""
      : gene
        ? `No predictions for ${gene} yet.`
        : "No predictions yet. Classify a variant and it will appear here.";
    $("history-range").textContent = total
      ? `${offset + 1}–${offset + items.length} of ${total}`
      : "";
    $("history-prev").disabled = offset <= 0;
    $("history-next").disabled = offset + items.length >= total;
  }

  /** Open a stored prediction in the Classify view, with its inputs back in the form. The
   *  single-record route adds the CIViC evidence, which the list leaves out. */
  async function showHistoryItem(item) {
    selectTab($("tab-classify"), { focus: false });
    clearErrors();
    let full = item;
    try {
      full = await api(`predictions/${encodeURIComponent(item.id)}`);
    } catch {
      // The list item is a full record too, only without the knowledge base.
    }
    $("gene").value = full.gene || "";
    $("variation").value = full.variation || "";
    $("disease").value = full.disease || "";
    $("drugs").value = (full.drugs || []).join(", ");
    textArea.value = full.text || "";
    updateCount();
    renderPrediction(full);
  }

  $("history-filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    historyState.gene = $("history-gene").value.trim();
    historyState.offset = 0;
    loadHistory({ force: true });
  });
  $("history-refresh").addEventListener("click", () => loadHistory({ force: true }));
  $("history-prev").addEventListener("click", () => {
    historyState.offset = Math.max(0, historyState.offset - HISTORY_PAGE_SIZE);
    loadHistory({ force: true });
  });
  $("history-next").addEventListener("click", () => {
    historyState.offset += HISTORY_PAGE_SIZE;
    loadHistory({ force: true });
  });

  // ---- batch --------------------------------------------------------------------------------

  const batchState = {
    result: null, // the AnnotationPublic answer
    filename: "",
    sort: { key: "tier", dir: 1 },
    selected: null, // index into result.variants
  };

  function setBatchProgress(state, fraction = 0) {
    const box = $("batch-progress");
    const bar = $("batch-bar");
    const label = $("batch-progress-text");
    box.hidden = state === "idle";
    box.classList.toggle("scoring", state === "scoring");
    if (state === "uploading") {
      bar.value = Math.round(fraction * 100);
      label.textContent = `Uploading… ${Math.round(fraction * 100)}%`;
    } else if (state === "scoring") {
      bar.removeAttribute("value"); // an indeterminate bar: the server gives no progress
      label.textContent = "Uploaded. Annotating the variants…";
    }
    $("batch-submit").disabled = state !== "idle";
  }

  /** XMLHttpRequest rather than fetch: only it reports upload progress. */
  function sendUpload(file, disease, key) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `${API}predict/batch`);
      xhr.responseType = "json";
      xhr.setRequestHeader("Accept", "application/json");
      if (key) xhr.setRequestHeader("X-API-Key", key);
      xhr.upload.addEventListener("progress", (ev) => {
        if (ev.lengthComputable) setBatchProgress("uploading", ev.loaded / ev.total);
      });
      xhr.upload.addEventListener("load", () => setBatchProgress("scoring"));
      xhr.addEventListener("load", () => resolve({
        status: xhr.status,
        body: xhr.response,
        retryAfter: xhr.getResponseHeader("Retry-After"),
      }));
      xhr.addEventListener("error", () =>
        reject(new ApiError("The upload failed: the server could not be reached.", 0)));
      const body = new FormData();
      body.append("file", file);
      if (disease) body.append("disease", disease);
      setBatchProgress("uploading", 0);
      xhr.send(body);
    });
  }

  function showBatchError(message) {
    const slot = $("batch-file-error");
    slot.textContent = message;
    slot.hidden = !message;
    if (message) announce(message);
    if (message) $("batch-file").setAttribute("aria-invalid", "true");
    else $("batch-file").removeAttribute("aria-invalid");
  }

  $("batch-file").addEventListener("change", () => showBatchError(""));

  $("batch-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showBatchError("");
    const file = $("batch-file").files[0];
    if (!file) {
      showBatchError("Choose a VCF, MAF or CSV file first.");
      $("batch-file").focus();
      return;
    }
    const disease = $("batch-disease").value.trim();
    try {
      const result = await withKey((key) => sendUpload(file, disease, key));
      batchState.filename = file.name;
      showAnnotation(toAnnotation(result));
      historyState.stale = true;
    } catch (err) {
      showBatchError(err.message);
      $("batch-file").focus();
    } finally {
      setBatchProgress("idle");
    }
  });

  /** "variation is empty" needs no "variation:" prefix; "must be text" does. */
  function errorText(error) {
    const message = error?.message || "This row could not be read.";
    const field = error?.field ? humanize(error.field) : "";
    return field && !message.toLowerCase().includes(field.toLowerCase())
      ? `${field}: ${message}` : message;
  }

  // -- the answer: AnnotationPublic (each distinct variant once, every input row kept) --

  /** The summary's tier group of a variant: "Tier I".."Tier IV", "none" (CIViC knows nothing
   *  of the gene), "non-coding", or "unknown" (no knowledge base). */
  function tierGroup(v) {
    if (v.coding === false) return "non-coding";
    const tier = v.tier || v.knowledge?.tier;
    return tier?.tier || "unknown";
  }

  function tierGroupLabel(group) {
    return TIER_GROUP_LABELS[group] || group;
  }

  function seriousWarnings(p) {
    return warningsOf(p).filter((w) => w.severity !== "info");
  }

  function tierLabel(v) {
    const tier = v.tier || v.knowledge?.tier;
    if (!tier || !tier.tier) return "";
    return tier.tier === "none" ? "Not tiered" : tier.label || tier.tier;
  }

  function tierRank(v) {
    const tier = v.tier || v.knowledge?.tier;
    const i = TIER_ORDER.indexOf(tierGroup(v));
    if (i < 0) return 99;
    return i * 10 + ("ABCD".indexOf(tier?.level || "") + 1 || 5);
  }

  function summarize(variants, rows) {
    const byTier = {};
    const byClass = {};
    for (const v of variants) {
      const t = tierGroup(v);
      byTier[t] = (byTier[t] || 0) + 1;
      const name = v.prediction ? v.prediction.name || v.prediction.label : null;
      if (name) byClass[name] = (byClass[name] || 0) + 1;
    }
    return {
      rows: rows.length,
      variants: variants.length,
      samples: new Set(rows.map((r) => r.sample).filter(Boolean)).size,
      scored: variants.filter((v) => v.prediction).length,
      non_coding: variants.filter((v) => v.coding === false).length,
      failed: rows.filter((r) => r.status === "error").length,
      by_tier: byTier,
      by_class: byClass,
      // As the server counts: warnings of severity "warning", not notes.
      with_warnings: variants.filter((v) => v.prediction && seriousWarnings(v.prediction).length)
        .length,
      actionable: variants.filter((v) => ["Tier I", "Tier II"].includes(tierGroup(v))).length,
    };
  }

  /** The answer as AnnotationPublic. A server that still answers the older BatchPublic (one
   *  result per row) is read into the same shape: identical inputs become one variant. */
  function toAnnotation(result) {
    if (result && Array.isArray(result.variants) && Array.isArray(result.rows)) {
      return { ...result, summary: result.summary || summarize(result.variants, result.rows) };
    }
    const variants = [];
    const rows = [];
    const seen = new Map();
    for (const r of result?.results || []) {
      const p = r.prediction;
      if (!r.ok || !p) {
        rows.push({ line: r.row, sample: r.sample ?? null, gene: r.gene ?? null,
          variation: r.variation ?? null, status: "error", variant: null, error: r.error });
        continue;
      }
      const normalized = p.parsed_variation?.normalized || p.variation;
      const key = [p.gene, normalized, p.disease, (p.drugs || []).join(";"), p.text].join("\u0001");
      if (!seen.has(key)) {
        seen.set(key, variants.length);
        const tier = p.knowledge?.tier ?? null;
        variants.push({ key: `${p.gene} ${normalized}`, gene: p.gene, variation: p.variation,
          disease: p.disease || "", consequence: null, transcript: null, location: null,
          coding: true, note: null, samples: [], n_samples: 0, lines: [], tier,
          actionable: ["Tier I", "Tier II"].includes(tier?.tier), therapies:
          p.knowledge?.therapies ?? [], functional: [], civic_url: null,
          knowledge: p.knowledge ?? null, prediction: p });
      }
      const index = seen.get(key);
      const v = variants[index];
      if (r.sample && !v.samples.includes(r.sample)) v.samples.push(r.sample);
      v.n_samples = v.samples.length;
      v.lines.push(r.row);
      rows.push({ line: r.row, sample: r.sample ?? null, gene: p.gene, variation: p.variation,
        status: "scored", variant: index, error: null });
    }
    return {
      batch_id: result?.batch_id ?? null,
      created_at: null,
      source: "",
      format: "",
      disease: "",
      task: result?.task,
      model: result?.model,
      knowledge_release: variants.find((v) => v.knowledge?.release)?.knowledge.release ?? null,
      summary: summarize(variants, rows),
      variants,
      rows,
      errors: result?.errors || [],
    };
  }

  function stat(value, label, kind = "", note = "") {
    return h("div", { class: `stat ${kind}`.trim(), "data-stat": label },
      h("span", { class: "stat-value", text: Number(value || 0).toLocaleString() }),
      h("span", { class: "stat-label", text: label }),
      note ? h("span", { class: "stat-note", text: note }) : null);
  }

  function renderSummary(a) {
    const s = a.summary;
    const tiers = Object.keys(s.by_tier || {}).sort((x, y) => {
      const rank = (t) => (TIER_ORDER.indexOf(t) < 0 ? 99 : TIER_ORDER.indexOf(t));
      return rank(x) - rank(y) || x.localeCompare(y);
    });
    fill($("batch-summary"),
      stat(s.variants, "variants", "", `from ${plural(s.rows, "row")}, ` +
        `${plural(s.samples, "sample")}`),
      stat(s.actionable, "actionable", s.actionable ? "good" : "", "Tier I or II"),
      ...tiers.map((t) => stat(s.by_tier[t], tierGroupLabel(t), tierClass(t),
        t === "non-coding" ? "no protein change to score" : "")),
      stat(s.with_warnings, "with warnings", s.with_warnings ? "warn" : "", "notes not counted"),
      stat(s.failed, s.failed === 1 ? "row in error" : "rows in error", s.failed ? "error" : ""),
    );
  }

  // -- filters and sorting --

  function fillSelect(select, options, allLabel) {
    const keep = select.value;
    select.replaceChildren(h("option", { value: "", text: allLabel }),
      ...options.map(([value, label]) => h("option", { value, text: label })));
    select.value = options.some(([v]) => v === keep) ? keep : "";
  }

  function fillFilters(a) {
    const count = (fn) => {
      const out = new Map();
      for (const v of a.variants) for (const k of fn(v)) out.set(k, (out.get(k) || 0) + 1);
      return out;
    };
    const tiers = count((v) => [tierGroup(v)]);
    fillSelect($("filter-tier"), [...tiers.keys()]
      .sort((x, y) => (TIER_ORDER.indexOf(x) + 1 || 99) - (TIER_ORDER.indexOf(y) + 1 || 99))
      .map((t) => {
        const label = tierGroupLabel(t);
        return [t, `${label.charAt(0).toUpperCase()}${label.slice(1)} (${tiers.get(t)})`];
      }), "All tiers");
    const classes = count((v) => [v.prediction ? v.prediction.name || v.prediction.label
      : "Not classified"]);
    fillSelect($("filter-class"), [...classes.keys()].sort()
      .map((c) => [c, `${c} (${classes.get(c)})`]), "All classes");
    const codes = count((v) => (v.prediction ? warningsOf(v.prediction).map((w) => w.code) : []));
    const warning = $("filter-warning");
    const keep = warning.value;
    warning.replaceChildren(
      h("option", { value: "", text: "Any" }),
      h("option", { value: "with", text: "With warnings (not counting notes)" }),
      h("option", { value: "without", text: "Without warnings" }),
      ...[...codes.keys()].map((c) => h("option", { value: `code:${c}`,
        text: `${(WARNINGS[c] || {}).title || humanize(c)} (${codes.get(c)})` })));
    warning.value = [...warning.options].some((o) => o.value === keep) ? keep : "";
  }

  function className(v) {
    return v.prediction ? v.prediction.name || v.prediction.label : "Not classified";
  }

  function matchesFilters(v) {
    const gene = $("filter-gene").value.trim().toUpperCase();
    const tier = $("filter-tier").value;
    const cls = $("filter-class").value;
    const warning = $("filter-warning").value;
    const codes = v.prediction ? warningsOf(v.prediction).map((w) => w.code) : [];
    const serious = v.prediction ? seriousWarnings(v.prediction).length : 0;
    if (gene && !String(v.gene || "").toUpperCase().includes(gene)) return false;
    if (tier && tierGroup(v) !== tier) return false;
    if (cls && className(v) !== cls) return false;
    // "With warnings" counts as the summary does: warnings, not notes.
    if (warning === "with" && !serious) return false;
    if (warning === "without" && (serious || !v.prediction)) return false;
    if (warning.startsWith("code:") && !codes.includes(warning.slice(5))) return false;
    return true;
  }

  const BATCH_COLUMNS = [
    { key: "gene", label: "Gene", value: (v) => v.gene || "" },
    { key: "variation", label: "Variation", value: (v) => variationText(v) },
    { key: "samples", label: "Samples", value: sampleCount, num: true },
    { key: "tier", label: "Tier", value: tierRank },
    { key: "class", label: "Predicted class", value: className },
    { key: "confidence", label: "Confidence", num: true,
      value: (v) => v.prediction?.probability ?? -1 },
    { key: "warnings", label: "Warnings", num: true,
      value: (v) => (v.prediction ? warningsOf(v.prediction).length : -1) },
  ];

  /** The protein change, or for a non-coding variant its genomic change. */
  function variationText(v) {
    return v.variation || v.location || (v.coding === false ? "non-coding" : v.key || "");
  }

  function sampleCount(v) {
    return v.n_samples || (v.samples || []).length || (v.lines || []).length;
  }

  function sortedVariants(a) {
    const col = BATCH_COLUMNS.find((c) => c.key === batchState.sort.key) || BATCH_COLUMNS[0];
    const dir = batchState.sort.dir;
    const indexed = a.variants.map((v, i) => ({ v, i }));
    indexed.sort((x, y) => {
      const p = col.value(x.v);
      const q = col.value(y.v);
      const c = typeof p === "number" && typeof q === "number" ? p - q
        : String(p).localeCompare(String(q), undefined, { numeric: true });
      // Ties keep a useful order: by gene, then the input order.
      return dir * c || String(x.v.gene).localeCompare(String(y.v.gene)) || x.i - y.i;
    });
    return indexed;
  }

  function renderBatchHead() {
    const row = $("batch-table").querySelector("thead tr");
    row.replaceChildren(...BATCH_COLUMNS.map((c) => {
      const active = batchState.sort.key === c.key;
      const order = batchState.sort.dir > 0 ? "ascending" : "descending";
      const button = h("button", { type: "button", class: "sort", "data-sort": c.key },
        c.label, h("span", { class: "sort-mark", "aria-hidden": "true",
          text: active ? (batchState.sort.dir > 0 ? " ▲" : " ▼") : " ↕" }));
      button.addEventListener("click", () => {
        batchState.sort = { key: c.key, dir: active ? -batchState.sort.dir : 1 };
        renderBatchHead();
        renderBatchRows();
        $("batch-table").querySelector(`button[data-sort="${c.key}"]`).focus();
      });
      return h("th", { scope: "col", class: c.num ? "num" : null,
        "aria-sort": active ? order : "none" }, button);
    }));
  }

  function renderBatchRows() {
    const a = batchState.result;
    if (!a) return;
    const shown = sortedVariants(a).filter(({ v }) => matchesFilters(v));
    $("batch-table").querySelector("tbody").replaceChildren(...shown.map(({ v, i }) => {
      const p = v.prediction;
      const warnings = p ? warningsOf(p) : [];
      const samples = v.samples || [];
      const open = h("button", { type: "button", class: "link variant-open", text: v.gene || "–",
        "aria-label": `Details of ${v.gene} ${variationText(v)}` });
      open.addEventListener("click", (ev) => {
        ev.stopPropagation();
        showVariant(i);
      });
      const row = h("tr", { class: `clickable${batchState.selected === i ? " selected" : ""}`,
        "data-index": i, "aria-current": batchState.selected === i ? "true" : null },
      h("td", { "data-label": "Gene", class: "strong" }, open,
        v.consequence ? h("span", { class: "sub", text: humanize(v.consequence) }) : null),
      h("td", { "data-label": "Variation", text: variationText(v) || "–" }),
      h("td", { "data-label": "Samples", class: "num" }, String(sampleCount(v)),
        samples.length ? h("span", { class: "sub", text: samples.slice(0, 2).join(", ") +
          (samples.length > 2 ? ", …" : "") }) : null),
      h("td", { "data-label": "Tier" }, tierLabel(v)
        ? h("span", { class: `tier-badge small ${tierClass(tierGroup(v))}`, text: tierLabel(v) })
        : tierGroupLabel(tierGroup(v))),
      h("td", { "data-label": "Class" }, className(v),
        !p && v.note ? h("span", { class: "sub", text: v.note }) : null),
      h("td", { "data-label": "Confidence", class: "num",
        text: p ? percent(p.probability) : "–" }),
      h("td", { "data-label": "Warnings" }, warnings.length
        ? warnings.map((w, n) => h("span", { class: w.severity === "info" ? "muted" : "warn-text" },
          n ? "; " : "", w.severity === "info" ? "Note: " : "",
          (WARNINGS[w.code] || {}).title || humanize(w.code)))
        : h("span", { class: "muted", text: p ? "None" : "–" })));
      row.addEventListener("click", () => showVariant(i));
      return row;
    }));
    const total = a.variants.length;
    $("batch-count").textContent = shown.length === total
      ? `${plural(total, "variant")}. Choose one for its details.`
      : `${shown.length} of ${plural(total, "variant")} match the filters.`;
  }

  for (const id of ["filter-gene", "filter-tier", "filter-class", "filter-warning"]) {
    $(id).addEventListener(id === "filter-gene" ? "input" : "change", renderBatchRows);
  }
  $("batch-filters").addEventListener("submit", (ev) => ev.preventDefault());
  // The form's reset empties the controls after this event: render on the next tick.
  $("batch-filters").addEventListener("reset", () => setTimeout(renderBatchRows, 0));

  // -- one variant --

  function showVariant(index) {
    const a = batchState.result;
    const v = a.variants[index];
    if (!v) return;
    batchState.selected = index;
    for (const tr of $("batch-table").querySelectorAll("tbody tr")) {
      const on = Number(tr.dataset.index) === index;
      tr.classList.toggle("selected", on);
      if (on) tr.setAttribute("aria-current", "true");
      else tr.removeAttribute("aria-current");
    }
    const p = v.prediction;
    const title = `${v.gene || ""} ${variationText(v)}`.trim();
    const close = h("button", { type: "button", class: "quiet", text: "Close" });
    close.addEventListener("click", () => {
      $("batch-detail").hidden = true;
      const opener = $("batch-table").querySelector(`tr[data-index="${index}"] .variant-open`);
      if (opener) opener.focus();
    });
    // Each input row carrying the variant: its sample and line.
    const carriers = (a.rows || []).filter((r) => r.variant === index)
      .map((r) => (r.sample ? `${r.sample} (line ${r.line})` : `Line ${r.line}`));
    const samples = carriers.length ? carriers : (v.samples || []).length ? v.samples
      : (v.lines || []).map((l) => `Line ${l}`);
    const where = [v.disease && `in ${v.disease}`, v.consequence && humanize(v.consequence),
      v.transcript, v.variation && v.location].filter(Boolean);
    const query = {
      gene: v.gene || "",
      variation: v.variation || "",
      disease: v.disease ?? p?.disease ?? a.disease ?? "",
      therapies: p?.drugs || [],
    };
    // The annotation keeps the tier and therapies on the variant (not repeated in knowledge).
    const knowledge = v.knowledge || v.tier || v.therapies?.length
      ? { available: true, match: "none", items: [], total: 0, ...(v.knowledge || {}),
        tier: v.tier ?? v.knowledge?.tier ?? null,
        therapies: v.therapies?.length ? v.therapies : v.knowledge?.therapies || [],
        profile_url: v.civic_url }
      : null;
    const functional = v.functional || [];
    fill($("batch-detail"),
      h("div", { class: "detail-head" },
        h("h2", { id: "batch-detail-title", tabindex: "-1", text: title }), close),
      where.length ? h("p", { class: "muted", text: where.join(" · ") }) : null,
      v.note ? h("p", { class: "notice", text: v.note }) : null,
      p ? h("section", { class: "result-section" },
        h("h3", { text: "Prediction" }),
        h("p", { class: "confidence" },
          h("span", { class: "strong predicted-class", text: p.name || p.label }), " · ",
          h("span", { class: "confidence-value", text: percent(p.probability) }),
          ` ${confidenceWords(p.probability, p.flags, warningsOf(p))}`),
        renderGroup(p.group))
        : h("p", { class: "muted",
          text: "Not classified: the model scores protein changes only." }),
      p ? renderSet(p.prediction_set, p.label) : null,
      p ? renderWarnings(warningsOf(p)) : null,
      section(`Samples carrying it (${sampleCount(v)})`,
        h("ul", { class: "samples" }, samples.map((text) => h("li", { text })))),
      knowledge ? h("section", { class: "result-section" },
        h("h3", { text: "What CIViC says" }), ...knowledgeParts(knowledge, query)) : null,
      functional.length ? section("What the variant does (CIViC)",
        h("ul", { class: "functional" }, functional.map((it) => h("li", {},
          h("span", { class: "strong", text: it.clinical_significance || it.evidence_type }),
          ` · ${it.evidence_type} evidence, level ${it.evidence_level}`,
          it.civic_url ? h("span", {}, " · ", externalLink(it.civic_url, `EID${it.evidence_id}`))
            : null)))) : null,
    );
    $("batch-detail").hidden = false;
    const heading = $("batch-detail-title");
    heading.focus({ preventScroll: true });
    $("batch-detail").scrollIntoView({ block: "nearest" });
  }

  function renderBatchErrors(a) {
    const failed = (a.rows || []).filter((r) => r.status === "error");
    const items = failed.length
      ? failed.map((r) => ({ line: r.line, what: [r.sample, r.gene, r.variation].filter(Boolean)
        .join(" "), error: r.error }))
      : (a.errors || []).map((e) => ({ line: e.row, what: "", error: e }));
    $("batch-errors").hidden = !items.length;
    $("batch-error-list").replaceChildren(...items.map((e) => h("li", { class: "row-error" },
      h("span", { class: "strong", text: `Line ${e.line}` }),
      e.what ? ` (${e.what})` : "", ": ",
      h("span", { class: "error-text", text: errorText(e.error) }))));
  }

  function showAnnotation(a) {
    batchState.result = a;
    batchState.selected = null;
    const s = a.summary;
    $("batch-title").textContent = `Results for ${batchState.filename || a.source || "the batch"}`;
    $("batch-source").textContent = [
      a.format ? (a.format === "json" ? "JSON items" : `${a.format.toUpperCase()} file`) : "",
      a.disease ? `disease ${a.disease} where a row names none` : "",
      a.model ? `model ${a.model.name} ${a.model.version}` : "",
      a.knowledge_release ? `CIViC release ${a.knowledge_release}` : "",
    ].filter(Boolean).join(" · ");
    renderSummary(a);
    fillFilters(a);
    renderBatchHead();
    renderBatchRows();
    renderBatchErrors(a);
    $("batch-detail").hidden = true;
    $("batch-result").hidden = false;
    announce(`${plural(s.variants, "variant")} annotated from ${plural(s.rows, "row")}; ` +
      `${s.actionable} actionable` + (s.failed ? `; ${plural(s.failed, "row")} in error.` : "."));
  }

  /** One CSV line per input row (as the file had them), with its variant's annotation. Built
   *  here from the answer: asking the server again would score and store everything twice. */
  function downloadBatchCsv() {
    const a = batchState.result;
    if (!a) return;
    const header = ["line", "sample", "gene", "variation", "status", "tier", "tier_basis",
      "predicted_class", "probability", "cannot_be_ruled_out", "set_coverage", "warnings",
      "therapies", "civic_match", "note", "error_field", "error_message"];
    const rows = (a.rows || []).map((r) => {
      const v = r.variant !== null && r.variant !== undefined ? a.variants[r.variant] : null;
      const p = v?.prediction;
      const tier = v ? v.tier || v.knowledge?.tier : null;
      const therapies = (v?.therapies || []).slice(0, 12)
        .map((t) => `${t.therapy} (${t.response}, level ${t.best_level}, ${t.disease})`);
      return [r.line, r.sample, r.gene, r.variation, r.status,
        tier?.label || (v ? tierGroupLabel(tierGroup(v)) : ""), tier?.basis,
        p ? p.name || p.label : "", p ? p.probability : "",
        p ? (p.prediction_set?.names || []).join("; ") : "", p ? p.prediction_set?.coverage : "",
        p ? warningsOf(p).map((w) => w.code).join("; ") : "", therapies.join("; "),
        v?.knowledge?.match, v?.note, r.error?.field, r.error?.message];
    });
    const base = (batchState.filename || "batch").replace(/\.[^.]+$/, "") || "batch";
    downloadBlob(toCsv(header, rows), `oncoclass-${base}.csv`, "text/csv");
  }

  $("batch-download").addEventListener("click", downloadBatchCsv);

  $("batch-template").addEventListener("click", () => {
    const rows = [
      ["S1", "BRAF", "V600E", "Melanoma", "Vemurafenib", ""],
      ["S2", "TP53", "R273C", "", "", ""],
      ["S3", "EGFR", "T790M", "Lung Non-small Cell Carcinoma", "Osimertinib", ""],
    ];
    downloadBlob(toCsv(["sample", "gene", "variation", "disease", "drugs", "text"], rows),
      "oncoclass-template.csv", "text/csv");
  });

  // ---- model footer -------------------------------------------------------------------------

  /** The first macro-F1 in the metrics, cross-validation results first. */
  function findMacroF1(metrics) {
    let found = null;
    const walk = (obj, path) => {
      if (!obj || typeof obj !== "object" || found) return;
      for (const [k, v] of Object.entries(obj)) {
        if (/macro[_-]?f1|f1[_-]?macro/i.test(k) && typeof v === "number") {
          found = { value: v, path: [...path, k].join(" ") };
          return;
        }
        walk(v, [...path, k]);
      }
    };
    const cvKey = Object.keys(metrics || {}).find((k) => /cv|cross/i.test(k));
    if (cvKey) walk(metrics[cvKey], [cvKey]);
    walk(metrics, []);
    return found;
  }

  async function loadModelInfo() {
    const slot = $("model-info");
    try {
      const card = await api("model");
      if (card.limits?.max_text_chars) {
        MAX_TEXT_CHARS = card.limits.max_text_chars;
        updateCount();
      }
      const f1 = findMacroF1(card.metrics);
      const coverage = coverageWords(card.limits?.set_coverage);
      slot.replaceChildren(
        h("span", { class: "strong", text: "Model: " }),
        `${card.name || "unknown"} · version ${card.version || "?"} · task ${humanize(card.task)}`,
        f1 ? ` · ${/cv|cross/i.test(f1.path) ? "cross-validated " : ""}macro-F1 ` +
          `${f1.value.toFixed(2)}` : "",
        coverage
          ? ` · "cannot be ruled out" lists hold the right class for ${coverage} cases` : "",
      );
    } catch (err) {
      slot.textContent = err.status === 503 || err.status === 404
        ? "No model is loaded: predictions are unavailable until one is trained."
        : [401, 403, 429].includes(err.status)
          ? `Model information is unavailable. ${err.message}`
          : "Model information is unavailable.";
    }
  }

  // ---- start ----------------------------------------------------------------------------------

  updateCount();
  loadModelInfo();
  const initial = tabs.find((t) => `#${t.id.replace("tab-", "")}` === location.hash);
  if (initial) selectTab(initial, { focus: false });
})();
