// The preview's "Live" switch: while it is on, the call's live stream (Server-Sent Events from
// /services/stream/, named by the page's <link rel="alternate" type="text/event-stream">) adds each
// new photo to the grid and the map, highlighted for a few seconds. EventSource reconnects by itself
// after a network drop and sends Last-Event-ID, so the server replays what was missed; photos
// already shown are skipped by id, so nothing appears twice. A `reset` event (the page was away
// longer than the server's event log reaches) reloads the preview.
(function () {
  "use strict";

  const toggle = document.getElementById("live-switch");
  const body = document.getElementById("preview-body");
  if (!toggle || !body || !window.EventSource) return;
  const status = document.getElementById("live-status");
  const SVG = "http://www.w3.org/2000/svg";
  const HIGHLIGHT_MS = 4000;
  let source = null;
  let added = 0;
  const shown = new Set();

  document.getElementById("live-row").hidden = false;

  function streamUrl() {
    const link = document.querySelector('link[rel="alternate"][type="text/event-stream"]');
    return link ? link.href : "";
  }

  function rememberShown() {
    shown.clear();
    for (const item of body.querySelectorAll("li[data-photo]")) shown.add(item.dataset.photo);
  }

  function say(text) {
    status.textContent = text;
  }

  function stop() {
    if (source) source.close();
    source = null;
  }

  function start() {
    stop();
    const url = streamUrl();
    if (!toggle.checked || !url) {
      say("");
      return;
    }
    rememberShown();
    added = 0;
    source = new EventSource(url);
    source.addEventListener("open", () => say("Live: new photos appear here as they arrive."));
    source.addEventListener("error", () => {
      if (source && source.readyState === EventSource.CLOSED) {
        say("Live: the server refused the stream (too busy, or the call has an error). Switch it on again later.");
        toggle.checked = false;
        stop();
      } else {
        say("Live: the connection dropped; reconnecting\u2026");
      }
    });
    source.addEventListener("photo", (event) => add(JSON.parse(event.data)));
    source.addEventListener("reset", () => document.dispatchEvent(new CustomEvent("live:reload")));
  }

  function highlight(element) {
    element.classList.add("fresh");
    setTimeout(() => element.classList.remove("fresh"), HIGHLIGHT_MS);
  }

  function grid() {
    let list = body.querySelector("ul.photos");
    if (!list) {
      const preview = body.querySelector(".preview");
      if (!preview) return null;
      const empty = preview.querySelector("p.empty");
      if (empty) empty.remove();
      list = document.createElement("ul");
      list.className = "photos";
      preview.appendChild(list);
    }
    return list;
  }

  // As _preview.html renders a thumbnail.
  function thumbnail(photo) {
    const item = document.createElement("li");
    item.dataset.photo = photo.id;
    const link = document.createElement("a");
    link.className = "photo";
    link.href = photo.url;
    const src = photo.images.q || photo.images.sq;
    if (src) {
      const img = document.createElement("img");
      img.src = src;
      img.alt = photo.title || "Untitled photo";
      img.width = img.height = photo.images.q ? 150 : 75;
      img.decoding = "async";
      img.referrerPolicy = "no-referrer";
      link.appendChild(img);
    }
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = photo.title || "Untitled photo";
    link.appendChild(title);
    item.appendChild(link);
    const owner = document.createElement("span");
    owner.className = "owner";
    owner.append("by ");
    const ownerLink = document.createElement("a");
    ownerLink.href = photo.owner_url;
    ownerLink.textContent = photo.ownername;
    owner.appendChild(ownerLink);
    item.appendChild(owner);
    return item;
  }

  // As _map.html draws a marker: x = longitude, y = -latitude; the view grows to hold it.
  function mark(photo) {
    const svg = body.querySelector("figure.map svg");
    if (!svg || photo.latitude === undefined) return;
    const x = photo.longitude;
    const y = -photo.latitude;
    const link = document.createElementNS(SVG, "a");
    link.setAttribute("href", photo.url);
    const dot = document.createElementNS(SVG, "circle");
    dot.setAttribute("class", "marker");
    dot.setAttribute("cx", x);
    dot.setAttribute("cy", y);
    dot.setAttribute("r", svg.dataset.r || "2");
    const title = document.createElementNS(SVG, "title");
    title.textContent = photo.title || "Untitled photo";
    dot.appendChild(title);
    link.appendChild(dot);
    svg.appendChild(link);
    const [vx, vy, vw, vh] = svg.getAttribute("viewBox").split(/\s+/).map(Number);
    if (x < vx || x > vx + vw || y < vy || y > vy + vh) {
      const west = Math.max(-180, Math.min(vx, x - 5));
      const east = Math.min(180, Math.max(vx + vw, x + 5));
      const top = Math.max(-90, Math.min(vy, y - 5));
      const bottom = Math.min(90, Math.max(vy + vh, y + 5));
      svg.setAttribute("viewBox", [west, top, east - west, bottom - top].join(" "));
    }
    highlight(dot);
  }

  function add(photo) {
    if (shown.has(photo.id)) return;
    const list = grid();
    if (!list) return;
    shown.add(photo.id);
    const item = thumbnail(photo);
    list.prepend(item);
    highlight(item);
    mark(photo);
    added += 1;
    say("Live: " + added + (added === 1 ? " new photo" : " new photos") + " since the switch was turned on.");
  }

  toggle.addEventListener("change", start);
  // A new call (or a reloaded preview): follow its stream instead.
  document.addEventListener("preview:loaded", () => (toggle.checked ? start() : rememberShown()));
})();
