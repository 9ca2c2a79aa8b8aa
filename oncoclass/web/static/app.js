// OncoClass page: vanilla JavaScript talking to the JSON API under v1/ (relative URLs, so the
// app also works behind a proxy that serves it under a path prefix). No library, no build step.
// Every value from the server or the user is inserted with textContent, never as HTML.
"use strict";

(() => {
  const API = "v1/";
  const HISTORY_PAGE_SIZE = 15;
  const KNOWLEDGE_ROWS_SHOWN = 8;
  const FORM_FIELDS = ["gene", "variation", "disease", "drugs", "text"];

  // Written for this page (not quoted from a paper): a short, typical evidence summary.
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
      "Patients whose tumours were BRAF wild type did not respond to vemurafenib. " +
      "In many patients resistance emerged after several months, often through reactivation " +
      "of MAPK signalling. " +
      "These observations support testing melanoma for BRAF V600E before a BRAF inhibitor " +
      "is chosen.",
  };

  const MATCH_EXPLAINED = {
    exact: (v) => `These CIViC evidence items are about exactly this variant (${v}).`,
    position: (v) =>
      `CIViC has no items for ${v} itself; these are about other changes at the same ` +
      "protein position, so read them with care.",
    type: (v) =>
      `CIViC has no items for ${v} or its position; these are about variants of the same ` +
      "kind in this gene, so they are only indirectly relevant.",
    none: (v) => `CIViC has no evidence items for ${v}.`,
  };

  const MATCH_BADGES = {
    exact: "Exact match",
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

  function percent(p) {
    const v = Number(p) * 100;
    if (!Number.isFinite(v)) return "–";
    if (v > 0 && v < 1) return "<1%";
    if (v > 99 && v < 100) return ">99%";
    return `${Math.round(v)}%`;
  }

  /** Words for a confidence; "low" follows the server's flag, so the two never disagree. */
  function confidenceWords(p, flags = {}) {
    if (flags.low_confidence) return "low confidence";
    return p >= 0.8 ? "high confidence" : "moderate confidence";
  }

  function formatDate(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function humanize(s) {
    return String(s ?? "").replace(/[_-]+/g, " ").trim();
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

  function csvCell(v) {
    const s = v === null || v === undefined ? "" : String(v);
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

  // ---- the API --------------------------------------------------------------------------------

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

  async function readBody(response) {
    const type = response.headers.get("content-type") || "";
    if (type.includes("json")) return response.json().catch(() => null);
    return response.text().catch(() => "");
  }

  async function api(path, { method = "GET", json } = {}) {
    const init = { method, headers: { Accept: "application/json" } };
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
    const body = await readBody(response);
    if (!response.ok) {
      const { message, fields } = parseError(body, response.status);
      throw new ApiError(message, response.status, fields);
    }
    return body;
  }

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
          ` ${confidenceWords(p.probability, p.flags)}`,
        ),
        renderFlags(p.flags || {}),
      ),
      section("Probability of each class", renderBars(p.probabilities || [], p.label)),
      section("Evidence that drove the prediction", renderEvidence(text, p.evidence || [])),
      renderVariation({ raw: variation, ...(p.parsed_variation || {}) }),
      renderKnowledge(p.knowledge, subject, variation),
      h(
        "footer",
        { class: "result-foot" },
        [
          p.id !== undefined ? `Saved as prediction #${p.id}` : "",
          p.created_at ? formatDate(p.created_at) : "",
          p.model ? `${p.model.name} ${p.model.version}` : "",
        ]
          .filter(Boolean)
          .join(" · "),
      ),
    );
    $("result").replaceChildren(card);
    const warnings = flagWords(p.flags).join(", ");
    announce(`Predicted ${p.name || p.label}, ${percent(p.probability)} confidence.` +
      (warnings ? ` Warnings: ${warnings}.` : ""));
    card.querySelector("#result-heading").focus({ preventScroll: true });
    if (window.matchMedia("(max-width: 960px)").matches) card.scrollIntoView();
  }

  const FLAGS = [
    [
      "unknown_gene",
      "Gene not seen in training",
      "The model has not seen this gene before; the result rests on the text and on patterns " +
        "learned from other genes.",
    ],
    [
      "unknown_variation",
      "Variation not seen in training",
      "This exact variation was not in the training data; the result is extrapolated.",
    ],
    [
      "low_confidence",
      "Low confidence",
      "No class is clearly favoured; treat this result as uncertain.",
    ],
  ];

  function renderFlags(flags) {
    const active = FLAGS.filter(([key]) => flags[key]);
    if (!active.length) {
      return h(
        "ul",
        { class: "badges", "aria-label": "Warnings" },
        h("li", { class: "badge ok", text: "No warnings" }),
      );
    }
    return h(
      "div",
      { class: "flags" },
      h(
        "ul",
        { class: "badges", "aria-label": "Warnings" },
        active.map(([key, label, why]) =>
          h("li", { class: "badge warn", "data-flag": key, title: why }, h("span", {
            class: "badge-icon", "aria-hidden": "true", text: "!" }), label),
        ),
      ),
      h("ul", { class: "flag-notes" }, active.map(([, , why]) => h("li", { text: why }))),
    );
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

  function knowledgeLink(href, text) {
    return h("a", { href, target: "_blank", rel: "noopener noreferrer" }, text,
      h("span", { class: "sr-only", text: " (opens in a new tab)" }));
  }

  function knowledgeRow(it, variation) {
    const joiner = it.therapy_interaction === "Combination" ? " + " : ", ";
    const level = EVIDENCE_LEVELS[it.evidence_level] || it.evidence_level || "";
    const rating = it.rating ? `; rated ${it.rating} of 5` : "";
    const pubmed = it.pubmed_url
      || (it.pubmed_id ? `https://pubmed.ncbi.nlm.nih.gov/${it.pubmed_id}/` : null);
    const sourceLink = pubmed ? knowledgeLink(pubmed, it.citation || `PubMed ${it.pubmed_id}`) : null;
    if (sourceLink) sourceLink.classList.add("pubmed");
    return h(
      "tr",
      {},
      h("td", {}, h("span", { class: "strong", text: it.disease || "–" }),
        // Name the variant when it is not the one asked about (position/type matches).
        it.variant && it.variant.toUpperCase() !== variation.toUpperCase()
          ? h("span", { class: "sub", text: `${it.gene || ""} ${it.variant}`.trim() }) : null),
      h("td", { text: (it.therapies || []).join(joiner) || "–" }),
      h("td", {}, h("span", { text: it.clinical_significance || "–" }),
        h("span", { class: "sub", text: [it.evidence_type && `${it.evidence_type} evidence`,
          it.evidence_direction && it.evidence_direction.toLowerCase()].filter(Boolean)
          .join(", ") })),
      h("td", { class: "center", title: level ? `Level ${level}${rating}` : null },
        h("span", { class: "level", text: it.evidence_level || "–" }),
        h("span", { class: "sr-only", text: level ? ` (${level}${rating})` : "" })),
      h("td", {},
        h("span", { class: "links" },
          sourceLink || h("span", { class: "muted", text: it.citation || it.source_type || "–" }),
          it.civic_url ? knowledgeLink(it.civic_url, `CIViC EID${it.evidence_id}`) : null),
        it.statement ? h("details", {}, h("summary", { text: "Summary" }),
          h("p", { text: it.statement })) : null),
    );
  }

  function renderKnowledge(knowledge, subject, variation) {
    if (!knowledge) return null;
    const items = knowledge.items || [];
    const match = knowledge.match || "none";
    const explain = (MATCH_EXPLAINED[match] || MATCH_EXPLAINED.none)(subject || "this variant");
    const total = knowledge.total ?? items.length;
    const parts = [
      h("p", { class: `match match-${match}` },
        h("span", { class: "badge subtle", text: MATCH_BADGES[match] || match }), " ", explain,
        total > items.length ? ` The ${items.length} best of ${total} items are listed.` : ""),
    ];
    if (items.length) {
      const rows = items.map((it) => knowledgeRow(it, variation));
      rows.forEach((r, i) => { r.hidden = i >= KNOWLEDGE_ROWS_SHOWN; });
      parts.push(
        h("div", { class: "table-wrap" }, h(
          "table",
          { class: "data-table knowledge" },
          h("caption", { class: "sr-only", text: "CIViC evidence items, best evidence first" }),
          h("thead", {}, h("tr", {}, ["Disease", "Therapies", "Significance and evidence type",
            "Level", "Source"].map((c) => h("th", { scope: "col", text: c })))),
          h("tbody", {}, rows),
        )),
      );
      if (items.length > KNOWLEDGE_ROWS_SHOWN) {
        const more = h("button", { type: "button", class: "link",
          text: `Show all ${items.length} items` });
        more.addEventListener("click", () => {
          for (const r of rows) r.hidden = false;
          more.remove();
        });
        parts.push(more);
      }
    }
    return section("What the knowledge base (CIViC) says", ...parts);
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

  function renderHistory() {
    const { items, total, offset, gene } = historyState;
    const tbody = $("history-table").querySelector("tbody");
    tbody.replaceChildren(
      ...items.map((it) => {
        const view = h("button", { type: "button", class: "link", text: "View",
          "aria-label": `View ${it.gene} ${it.variation}` });
        const row = h(
          "tr",
          { class: "clickable" },
          h("td", {}, formatDate(it.created_at), it.source === "batch"
            ? h("span", { class: "sub", text: "from a batch upload" }) : null),
          h("td", { class: "strong", text: it.gene }),
          h("td", { text: it.variation }),
          h("td", { text: it.disease || "–" }),
          h("td", { text: it.name || it.label }),
          h("td", { class: "num", text: percent(it.probability) }),
          h("td", {}, view),
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

  const batchState = { results: [], filename: "" };

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
      label.textContent = "Uploaded. Classifying the variants…";
    }
    $("batch-submit").disabled = state !== "idle";
  }

  /** XMLHttpRequest rather than fetch: only it reports upload progress. */
  function uploadBatch(file) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `${API}predict/batch`);
      xhr.responseType = "json";
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (ev) => {
        if (ev.lengthComputable) setBatchProgress("uploading", ev.loaded / ev.total);
      });
      xhr.upload.addEventListener("load", () => setBatchProgress("scoring"));
      xhr.addEventListener("load", () => {
        if (xhr.status >= 200 && xhr.status < 300 && xhr.response) resolve(xhr.response);
        else {
          const { message, fields } = parseError(xhr.response, xhr.status);
          reject(new ApiError(message || Object.values(fields).join(" "), xhr.status, fields));
        }
      });
      xhr.addEventListener("error", () =>
        reject(new ApiError("The upload failed: the server could not be reached.", 0)));
      const body = new FormData();
      body.append("file", file);
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
      showBatchError("Choose a CSV or MAF file first.");
      $("batch-file").focus();
      return;
    }
    try {
      const result = await uploadBatch(file);
      batchState.results = result.results || [];
      batchState.filename = file.name;
      renderBatch(result);
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

  function flagWords(flags = {}) {
    return FLAGS.filter(([k]) => flags[k]).map(([, label]) => label);
  }

  function renderBatch(result) {
    const results = result.results || [];
    const nOk = result.scored ?? results.filter((r) => r.ok).length;
    const nErr = result.failed ?? results.length - nOk;
    const download = h("button", { type: "button", class: "primary", id: "batch-download",
      text: "Download CSV" });
    download.addEventListener("click", downloadBatchCsv);
    const rows = results.map((r) => {
      const p = r.prediction || {};
      const kb = p.knowledge && p.knowledge.match !== "none"
        ? `CIViC: ${p.knowledge.total} item(s), ${MATCH_BADGES[p.knowledge.match].toLowerCase()}`
        : "";
      const notes = r.ok ? flagWords(p.flags).join("; ") : errorText(r.error);
      return h(
        "tr",
        { class: r.ok ? "" : "row-error" },
        h("td", { class: "num", text: r.row }),
        h("td", { class: "strong", text: r.gene || "–" },
          r.sample ? h("span", { class: "sub", text: r.sample }) : null),
        h("td", { text: r.variation || "–" }),
        h("td", { text: r.ok ? p.name || p.label : "Not classified" }),
        h("td", { class: "num", text: r.ok ? percent(p.probability) : "–" }),
        h("td", { class: r.ok ? "" : "error-text" },
          notes || (kb ? "" : "–"), kb ? h("span", { class: "sub", text: kb }) : null),
      );
    });
    announce(`${nOk} rows classified${nErr ? `, ${nErr} with errors` : ""}.`);
    $("batch-result").replaceChildren(
      h("div", { class: "card" },
        h("div", { class: "batch-summary" },
          h("h2", { text: `Results for ${batchState.filename}` }),
          h("p", {},
            h("span", { class: "badge ok", text: `${nOk} classified` }), " ",
            nErr ? h("span", { class: "badge error", text: `${nErr} with errors` }) : null),
          download),
        h("div", { class: "table-wrap tall" }, h("table", { class: "data-table", id: "batch-table" },
          h("caption", { class: "sr-only", text: "Batch results, one row per input row" }),
          h("thead", {}, h("tr", {}, ["Row", "Gene", "Variation", "Predicted class",
            "Confidence", "Notes"].map((c, i) => h("th", { scope: "col",
            class: i === 0 || i === 4 ? "num" : null, text: c })))),
          h("tbody", {}, rows)))),
    );
  }

  /** The CSV the server gives with ?format=csv (same columns), built from the JSON already
   *  here: asking the server again would score and store every row a second time. */
  function downloadBatchCsv() {
    const classes = [];
    for (const r of batchState.results) {
      for (const c of r.prediction?.probabilities || []) {
        if (!classes.includes(c.label)) classes.push(c.label);
      }
    }
    const header = ["row", "status", "sample", "gene", "variation", "prediction_id", "label",
      "name", "probability", ...classes.map((c) => `p[${c}]`), "unknown_gene",
      "unknown_variation", "low_confidence", "variation_type", "variation_normalized",
      "civic_match", "civic_items", "civic_best_level", "civic_top_evidence", "error_field",
      "error_message"];
    const rows = batchState.results.map((r) => {
      const p = r.prediction;
      if (!p) {
        return [r.row, "error", r.sample, r.gene, r.variation, "", "", "", "",
          ...classes.map(() => ""), "", "", "", "", "", "", "", "", "", r.error?.field,
          r.error?.message];
      }
      const by = Object.fromEntries(p.probabilities.map((c) => [c.label, c.probability]));
      const kb = p.knowledge;
      const pv = p.parsed_variation || {};
      return [r.row, "ok", r.sample, p.gene, p.variation, p.id, p.label, p.name, p.probability,
        ...classes.map((c) => by[c]), p.flags.unknown_gene, p.flags.unknown_variation,
        p.flags.low_confidence, pv.type, pv.normalized, kb?.match, kb?.total, kb?.best_level,
        (kb?.items || []).map((i) => `EID${i.evidence_id}`).join(" "), "", ""];
    });
    const base = batchState.filename.replace(/\.[^.]+$/, "") || "batch";
    downloadBlob(toCsv(header, rows), `oncoclass-${base}.csv`, "text/csv");
  }

  $("batch-template").addEventListener("click", () => {
    const rows = [
      ["BRAF", "V600E", "Melanoma", "Vemurafenib", ""],
      ["TP53", "R273C", "", "", ""],
      ["EGFR", "T790M", "Lung Non-small Cell Carcinoma", "Osimertinib", ""],
    ];
    downloadBlob(toCsv(["gene", "variation", "disease", "drugs", "text"], rows),
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
      slot.replaceChildren(
        h("span", { class: "strong", text: "Model: " }),
        `${card.name || "unknown"} · version ${card.version || "?"} · task ${humanize(card.task)}`,
        f1 ? ` · ${/cv|cross/i.test(f1.path) ? "cross-validated " : ""}macro-F1 ` +
          `${f1.value.toFixed(2)}` : "",
      );
    } catch (err) {
      slot.textContent = err.status === 503 || err.status === 404
        ? "No model is loaded: predictions are unavailable until one is trained."
        : "Model information is unavailable.";
    }
  }

  // ---- start ----------------------------------------------------------------------------------

  updateCount();
  loadModelInfo();
  const initial = tabs.find((t) => `#${t.id.replace("tab-", "")}` === location.hash);
  if (initial) selectTab(initial, { focus: false });
})();
