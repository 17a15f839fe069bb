// The feed builder, live: the feed address follows the form as it is filled in,
// fields the chosen method does not use are hidden, and the preview is fetched
// again (debounced) from /preview, which the server renders exactly as it does
// for a submitted form. Without this script the form submits to / and the
// server renders the same page; nothing here is needed for that.
(function () {
  "use strict";

  const form = document.getElementById("builder");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const urlBox = $("api-url");
  const openFeed = $("open-feed");
  const readerAction = $("reader-action");
  const feedLink = $("feed-link");
  const kmlLink = $("kml-link");
  const geojsonBox = $("geojson-url");
  const gneRow = $("gne-row");
  const gneBox = $("gne-url");
  const copyButton = $("copy-url");
  const copyStatus = $("copy-status");
  const previewStatus = $("preview-status");
  const previewBody = $("preview-body");
  const methods = new Set(Array.from(form.elements.method.options, (o) => o.value));
  // The content types a feed reader subscribes to (READER_TYPES in form.py).
  const readerTypes = new Set(["application/rss+xml", "application/atom+xml", "application/rdf+xml"]);
  const DEFAULT_SIZE = "b";
  const DELAY_MS = 400;

  // As query() in gateway/pages/form.py: percent-encoding, with , @ and : left readable.
  function encode(text) {
    return encodeURIComponent(text)
      .replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase())
      .replace(/%2C/g, ",").replace(/%40/g, "@").replace(/%3A/g, ":");
  }

  function query(pairs) {
    return pairs.map(([name, value]) => encode(name) + "=" + encode(value)).join("&");
  }

  function applies(control, method) {
    const field = control.closest("[data-methods]");
    return !field || !methods.has(method) || field.dataset.methods.split(" ").includes(method);
  }

  // As api_args() in gateway/pages/form.py: filled fields that apply to the method, in document order.
  function apiArgs() {
    const method = form.elements.method.value.trim();
    const args = [];
    for (const control of form.querySelectorAll("[data-arg]")) {
      const value = control.type === "checkbox" ? (control.checked ? control.value : "") : control.value.trim();
      if (!value || !applies(control, method)) continue;
      if (control.name === "size" && value === DEFAULT_SIZE) continue;
      args.push([control.name, value]);
    }
    if (form.elements.format.value === "json") args.push(["nojsoncallback", "1"]);
    return args;
  }

  function showFields(method) {
    for (const field of form.querySelectorAll("[data-methods]")) {
      field.hidden = methods.has(method) && !field.dataset.methods.split(" ").includes(method);
    }
    for (const set of form.querySelectorAll("fieldset")) {
      set.hidden = !set.querySelector(".field:not([hidden])");
    }
  }

  // The feed's <link rel="alternate">, so that a reader's "subscribe to this page" finds it.
  function setAlternate(type, url, title) {
    let link = document.querySelector('link[rel="alternate"]');
    if (!type) {
      if (link) link.remove();
      return;
    }
    if (!link) {
      link = document.createElement("link");
      link.rel = "alternate";
      document.head.appendChild(link);
    }
    link.type = type;
    link.href = url;
    if (title !== undefined) link.title = title;
  }

  function update() {
    const method = form.elements.method.value.trim();
    showFields(method);
    const args = apiArgs();
    const url = form.dataset.rest + "?" + query(args);
    urlBox.value = url;
    openFeed.href = url;
    feedLink.href = "feed:" + url;
    const option = form.elements.format.selectedOptions[0];
    const type = option ? option.dataset.type : "";
    readerAction.hidden = !readerTypes.has(type);
    setAlternate(readerTypes.has(type) ? type : "", url);
    const plain = args.filter(([name]) => name !== "format" && name !== "nojsoncallback");
    if (kmlLink) kmlLink.href = form.dataset.download + "?" + query(plain);
    if (geojsonBox) geojsonBox.value = form.dataset.rest + "?" + query(plain.concat([["format", "feed-geojson"]]));
    // The page's own address repeats the call, so the built feed page can be bookmarked.
    history.replaceState(null, "", form.action.split(/[?#]/)[0] + "?" + query(args));
    return query(args);
  }

  let timer = 0;
  let pending = null;

  async function loadPreview(q) {
    clearTimeout(timer);
    if (pending) pending.abort();
    const controller = new AbortController();
    pending = controller;
    previewBody.setAttribute("aria-busy", "true");
    previewStatus.textContent = "Loading the preview\u2026";
    try {
      const response = await fetch(form.dataset.preview + "?" + q, { signal: controller.signal });
      if (!response.ok) throw new Error("the server answered " + response.status);
      previewBody.innerHTML = await response.text();
      const data = previewBody.querySelector(".preview");
      previewStatus.textContent = data ? data.dataset.summary : "";
      // The server knows which calls a Flickr feed URL answers (feed_for in gateway/feeds/mapping.py).
      const gne = data ? data.dataset.gne : "";
      gneBox.value = gne;
      gneRow.hidden = !gne;
      const link = document.querySelector('link[rel="alternate"]');
      if (link && data) link.title = data.dataset.title;
    } catch (error) {
      if (error.name === "AbortError") return;
      previewStatus.textContent = "The preview could not be loaded (" + error.message + "); the feed address still works.";
    } finally {
      if (pending === controller) {
        pending = null;
        previewBody.removeAttribute("aria-busy");
      }
    }
  }

  function changed() {
    const q = update();
    clearTimeout(timer);
    timer = setTimeout(() => loadPreview(q), DELAY_MS);
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    loadPreview(update());
    // As the form's #feed action does without script: on a phone the results are below the form.
    $("feed").focus();
  });

  // The place field: suggestions from /places as a town is typed; choosing one fills lat, lon
  // and radius (offline: the gateway's own gazetteer, no geocoding service).
  const placeBox = $("f-place");
  const placeOptions = $("f-place-options");
  let placeTimer = 0;
  let found = [];

  async function suggest() {
    const text = placeBox.value.trim();
    if (text.length < 2) return;
    try {
      const response = await fetch(placeBox.dataset.places + "?q=" + encodeURIComponent(text));
      if (!response.ok) return;
      found = await response.json();
    } catch (error) {
      return;
    }
    placeOptions.replaceChildren(...found.map((place) => {
      const option = document.createElement("option");
      option.value = place.label;
      return option;
    }));
    choose();
  }

  function choose() {
    const place = found.find((p) => p.label === placeBox.value.trim());
    if (!place) return;
    for (const name of ["lat", "lon", "radius"]) {
      if (form.elements[name]) form.elements[name].value = place[name];
    }
    changed();
  }

  if (placeBox && placeOptions) {
    placeBox.addEventListener("input", (event) => {
      event.stopPropagation();  // the place is not part of the call: only what it fills is
      clearTimeout(placeTimer);
      if (found.some((p) => p.label === placeBox.value.trim())) choose();
      else placeTimer = setTimeout(suggest, 150);
    });
    placeBox.addEventListener("change", (event) => {
      event.stopPropagation();
      choose();
    });
  }

  async function copy() {
    try {
      await navigator.clipboard.writeText(urlBox.value);
      copyStatus.textContent = "Copied the feed address.";
    } catch (error) {
      // No clipboard API (a page served over plain http, or permission refused): select it for the person.
      urlBox.focus();
      urlBox.select();
      const done = document.execCommand && document.execCommand("copy");
      copyStatus.textContent = done ? "Copied the feed address." : "The address is selected: press Ctrl+C (\u2318C) to copy it.";
    }
  }

  copyButton.hidden = false;
  copyButton.addEventListener("click", copy);
  for (const box of [urlBox, geojsonBox, gneBox]) {
    if (box) box.addEventListener("focus", () => box.select());
  }
  showFields(form.elements.method.value.trim());
})();
