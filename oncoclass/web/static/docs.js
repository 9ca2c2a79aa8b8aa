// /docs: Swagger UI from the installed swagger-ui-bundle (nothing from the internet), started
// from this file rather than an inline script so that /docs keeps the page's strict
// Content-Security-Policy. The schema is fetched here, with the API key the page keeps for this
// tab (sessionStorage), because the server may require a key for it; the key is also added to
// the requests sent with "Try it out". Server strings are inserted as text only.
"use strict";

(() => {
  const KEY_STORAGE = "oncoclass.apiKey"; // the page's (static/app.js)
  const $ = (id) => document.getElementById(id);

  function storedKey() {
    try {
      return sessionStorage.getItem(KEY_STORAGE) || "";
    } catch {
      return "";
    }
  }

  let key = storedKey();

  function saveKey(value) {
    key = value;
    try {
      if (value) sessionStorage.setItem(KEY_STORAGE, value);
      else sessionStorage.removeItem(KEY_STORAGE);
    } catch {
      // storage disabled: the key lives in this page only
    }
  }

  function askForKey(said) {
    const form = $("docs-key");
    $("docs-key-said").textContent = said ? `The server said: ${said}` : "";
    $("docs-key-said").hidden = !said;
    form.hidden = false;
    $("docs-api-key").value = "";
    $("docs-api-key").focus();
  }

  async function load() {
    const status = $("docs-status");
    status.textContent = "";
    let response;
    try {
      response = await fetch("docs/openapi.json", {
        headers: key ? { "X-API-Key": key } : {},
      });
    } catch {
      status.textContent = "The server could not be reached.";
      return;
    }
    const body = await response.json().catch(() => null);
    const detail = body && typeof body.detail === "string" ? body.detail : "";
    if (response.status === 401) {
      if (key) saveKey(""); // refused: forget it
      askForKey(detail);
      return;
    }
    if (!response.ok || !body) {
      status.textContent = `The API description could not be loaded (error ${response.status})` +
        (detail ? `: ${detail}` : ".");
      return;
    }
    $("docs-key").hidden = true;
    window.SwaggerUIBundle({
      spec: body,
      dom_id: "#swagger-ui",
      layout: "BaseLayout",
      deepLinking: true,
      showExtensions: true,
      showCommonExtensions: true,
      presets: [window.SwaggerUIBundle.presets.apis],
      requestInterceptor: (request) => {
        if (key && !request.headers["X-API-Key"]) request.headers["X-API-Key"] = key;
        return request;
      },
    });
  }

  $("docs-key").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = $("docs-api-key").value.trim();
    if (!value) {
      $("docs-api-key").focus();
      return;
    }
    saveKey(value);
    load();
  });

  load();
})();
