"use strict";
// Every value from the sheet reaches the page through textContent or a DOM property, never
// through innerHTML, so a cell holding markup shows as text and runs nothing.
(function () {
  const BATCH = 20;
  const AHEAD_PX = 1200;
  const data = JSON.parse(document.getElementById("review-data").textContent);
  const meta = data.meta;
  const rows = data.rows;
  const state = { status: "", invalidOnly: false, query: "", list: [], next: 0 };
  const haystacks = new Array(rows.length);
  const timing = { firstCard: null, lastFilterMs: null };
  window.reviewTiming = timing;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function cssName(text) {
    return String(text).toLowerCase().replace(/[^a-z_]/g, "");
  }

  function number(value) {
    return typeof value === "number" ? value.toLocaleString("en") : String(value);
  }

  function plural(count, word, many) {
    return number(count) + " " + (count === 1 ? word : many || word + "s");
  }

  function clock(seconds) {
    const total = Math.round(seconds);
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const rest = total % 60;
    if (hours) return hours + " h " + String(minutes).padStart(2, "0") + " min";
    if (minutes) return minutes + " min " + String(rest).padStart(2, "0") + " s";
    return (seconds < 10 ? Math.round(seconds * 10) / 10 : total) + " s";
  }

  function safeUrl(text) {
    try {
      const url = new URL(String(text));
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  // ---- the header: counts and the spoken-time estimate ----

  function tile(value, label, className, status) {
    const node = el(status === undefined ? "div" : "button", "tile " + (className || ""));
    node.append(el("b", "", value), el("span", "", label));
    if (status !== undefined) {
      node.type = "button";
      node.title = status ? "show only " + status + " rows" : "show every row";
      node.addEventListener("click", function () {
        document.getElementById("status").value = status;
        state.status = status;
        apply();
      });
    }
    return node;
  }

  function showSummary() {
    document.getElementById("title").textContent = meta.title;
    document.getElementById("subtitle").textContent = meta.subtitle;
    const summary = document.getElementById("summary");
    summary.append(tile(number(meta.rows), "rows", "rows", ""));
    for (const status of meta.statuses) {
      const count = meta.counts[status] || 0;
      summary.append(tile(number(count), status, cssName(status) + (count ? "" : " zero"), status));
    }
    const audioOnly = meta.unknown_scenes > 0 && !meta.seconds;
    const spoken = audioOnly ? "unknown" : "≈ " + clock(meta.seconds) + (meta.unknown_scenes ? " + audio" : "");
    summary.append(tile(spoken, "spoken, estimated", "wide"));
    const each = meta.spoken_rows && meta.seconds ? " (≈ " + clock(meta.seconds / meta.spoken_rows) + " each)" : "";
    let text = "Spoken time of the " + plural(meta.spoken_rows, meta.spoken_label + " row") + each +
      ": words at " + meta.words_per_minute + " words a minute times the voice's speed, silences added.";
    if (meta.unknown_scenes) {
      text += " Not counted: " + plural(meta.unknown_scenes, "scene") +
        " of recorded audio, whose length is only known once it plays.";
    }
    document.getElementById("estimate").textContent = text;
    if (meta.shown < meta.rows) {
      const capped = document.getElementById("capped");
      capped.textContent = "This page holds the first " + number(meta.shown) + " of " +
        number(meta.rows) + " rows (the counts and the estimate cover all of them); " + meta.rest;
      capped.hidden = false;
    }
  }

  // ---- problems, each shown next to the field whose path it names ----

  function problemItem(problem, tag) {
    const item = el(tag || "li", "problem");
    item.append(document.createTextNode(problem.message));
    const where = [];
    if (problem.column) where.push('column "' + problem.column + '"');
    if (problem.path) where.push(problem.path);
    if (where.length) item.append(el("span", "where", " · " + where.join(" · ")));
    if (problem.placeholder) item.title = "from " + problem.placeholder;
    return item;
  }

  function claim(problems, path, exact) {
    const found = [];
    for (const problem of problems) {
      if (problem.shown) continue;
      const at = problem.path || "";
      const under = !exact && (at.startsWith(path + ".") || at.startsWith(path + "["));
      if (at === path || under) {
        problem.shown = true;
        found.push(problem);
      }
    }
    return found;
  }

  function attach(parent, found) {
    if (!found.length) return;
    const list = el("ul", "problems");
    for (const problem of found) list.append(problemItem(problem));
    parent.append(list);
  }

  // ---- one field: a label, a value, and the problems about it ----

  function field(parent, ctx, label, key, value, fallback) {
    const path = ctx.path + "." + key;
    const found = claim(ctx.problems, path, false);
    if (value === undefined && fallback === undefined && !found.length) return;
    const row = el("div", "field");
    row.append(el("div", "label", label));
    const cell = el("div", "value");
    if (value instanceof Node) cell.append(value);
    else if (value === undefined || value === null) cell.append(el("span", "absent", fallback || "not set"));
    else cell.textContent = typeof value === "string" ? value : JSON.stringify(value);
    row.append(cell);
    for (const problem of found) row.append(problemItem(problem, "div"));
    parent.append(row);
  }

  function spokenText(text) {
    // Show the script as it will be spoken: breaks, tabs and edge or doubled spaces made visible.
    const box = el("div", "script");
    const source = String(text);
    const parts = source.split(/(\r\n|\n|\r|\t| {2,}|^ +| +$)/);
    for (const part of parts) {
      if (!part) continue;
      if (part === "\n" || part === "\r\n" || part === "\r") {
        box.append(el("span", "nl", "↵"), document.createTextNode("\n"));
      } else if (part === "\t") {
        box.append(el("span", "ws", "→"));
      } else if (/^ +$/.test(part)) {
        const edge = source.startsWith(part) || source.endsWith(part) || part.length > 1;
        box.append(edge ? el("span", "ws", "·".repeat(part.length)) : document.createTextNode(part));
      } else {
        box.append(document.createTextNode(part));
      }
    }
    return box;
  }

  function swatch(colour, byDefault) {
    const box = el("span");
    if (typeof colour === "string" && /^#(?:[0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})$/i.test(colour)) {
      const chip = el("span", "swatch");
      chip.style.backgroundColor = colour;
      box.append(chip);
    }
    box.append(document.createTextNode(typeof colour === "string" ? colour : JSON.stringify(colour)));
    if (byDefault) box.append(el("span", "absent", " (default)"));
    return box;
  }

  function image(url) {
    const box = el("span");
    const href = safeUrl(url);
    const frame = el("span", "thumb", href ? "" : "no preview");
    if (href) {
      const img = el("img");
      img.loading = "lazy";
      img.alt = "";
      img.referrerPolicy = "no-referrer";
      img.addEventListener("error", function () {
        frame.textContent = "image not loaded";
      });
      img.src = href;
      frame.append(img);
    }
    box.append(frame, el("span", "mono", url));
    return box;
  }

  // A local file a row names: its thumbnail (made offline by avatar-merge) and its name.
  function asset(id) {
    const file = isObject(meta.media) && typeof id === "string" ? meta.media[id] : undefined;
    if (!isObject(file)) return id;
    const box = el("span", "local-file");
    if (typeof file.thumb === "string" && file.thumb.startsWith("data:image/jpeg;base64,")) {
      const frame = el("span", "thumb");
      const img = el("img");
      img.alt = String(file.name);
      img.src = file.thumb;
      frame.append(img);
      box.append(frame);
    }
    const kb = typeof file.size === "number" ? " (" + number(Math.ceil(file.size / 1024)) + " KB)" : "";
    box.append(el("span", "mono", String(file.name) + kb));
    return box;
  }

  function link(url) {
    const href = safeUrl(url);
    if (!href) return el("span", "mono", url);
    const anchor = el("a", "mono", url);
    anchor.href = href;
    anchor.target = "_blank";
    anchor.rel = "noopener noreferrer";
    return anchor;
  }

  // ---- one scene: what the viewer sees and what they hear ----

  function character(parent, ctx, value) {
    if (!isObject(value)) {
      field(parent, ctx, "character", "type", value, "none: voice only");
      return;
    }
    if (value.type === "talking_photo") {
      field(parent, ctx, "photo", "talking_photo_id", value.talking_photo_id, "missing");
      field(parent, ctx, "style", "talking_photo_style", value.talking_photo_style);
      field(parent, ctx, "talking", "talking_style", value.talking_style);
      field(parent, ctx, "expression", "expression", value.expression);
    } else {
      field(parent, ctx, value.type === "avatar" ? "avatar" : "type", value.type === "avatar" ? "avatar_id" : "type",
        value.type === "avatar" ? value.avatar_id : value.type, "missing");
      field(parent, ctx, "style", "avatar_style", value.avatar_style);
    }
    field(parent, ctx, "scale", "scale", value.scale);
    if (value.offset !== undefined) field(parent, ctx, "offset", "offset", value.offset);
    if (value.circle_background_color !== undefined) {
      field(parent, ctx, "circle", "circle_background_color", swatch(value.circle_background_color));
    }
  }

  function background(parent, ctx, value) {
    if (!isObject(value)) {
      field(parent, ctx, "colour", "value", value === undefined ? swatch("#f6f6fc", true) : value);
      return;
    }
    const type = value.type === undefined ? "color" : value.type;
    if (type === "color") {
      field(parent, ctx, "colour", "value", swatch(value.value === undefined ? "#f6f6fc" : value.value, value.value === undefined));
    } else if (type === "image") {
      if (value.url !== undefined) field(parent, ctx, "image", "url", image(value.url));
      if (value.image_asset_id !== undefined) field(parent, ctx, "image asset", "image_asset_id", asset(value.image_asset_id));
      if (value.asset_id !== undefined) field(parent, ctx, "image asset", "asset_id", asset(value.asset_id));
      field(parent, ctx, "fit", "fit", value.fit);
    } else if (type === "video") {
      if (value.url !== undefined) field(parent, ctx, "video", "url", link(value.url));
      if (value.video_asset_id !== undefined) field(parent, ctx, "video asset", "video_asset_id", asset(value.video_asset_id));
      field(parent, ctx, "plays", "play_style", value.play_style);
      field(parent, ctx, "fit", "fit", value.fit);
    } else {
      field(parent, ctx, "type", "type", type);
    }
  }

  function voice(parent, ctx, value) {
    if (!isObject(value)) {
      field(parent, ctx, "voice", "type", value, "missing");
      return;
    }
    if (value.type === "text") {
      field(parent, ctx, "says", "input_text",
        typeof value.input_text === "string" ? spokenText(value.input_text) : value.input_text, "nothing");
      field(parent, ctx, "voice", "voice_id", value.voice_id, "missing");
      field(parent, ctx, "speed", "speed", value.speed === undefined ? "1 (default)" : value.speed);
      field(parent, ctx, "pitch", "pitch", value.pitch);
      field(parent, ctx, "emotion", "emotion", value.emotion);
      field(parent, ctx, "locale", "locale", value.locale);
      if (isObject(value.elevenlabs_settings)) {
        field(parent, ctx, "ElevenLabs", "elevenlabs_settings", value.elevenlabs_settings);
      }
    } else if (value.type === "audio") {
      if (value.audio_url !== undefined) field(parent, ctx, "audio", "audio_url", link(value.audio_url));
      if (value.audio_asset_id !== undefined) field(parent, ctx, "audio asset", "audio_asset_id", asset(value.audio_asset_id));
    } else if (value.type === "silence") {
      field(parent, ctx, "silence", "duration", (value.duration === undefined ? 1 : value.duration) + " s");
    } else {
      field(parent, ctx, "type", "type", value.type, "missing");
    }
  }

  function part(title) {
    const node = el("div", "part");
    node.append(el("h3", "", title));
    return node;
  }

  function section(parent, problems, path, fill, value) {
    const ctx = { path: path, problems: problems };
    fill(parent, ctx, value);
    attach(parent, claim(problems, path, false));
  }

  function scene(scenes, index, value, seconds, problems) {
    const path = "video_inputs[" + index + "]";
    const node = el("section", "scene");
    const head = el("div", "scene-head");
    head.append(el("span", "", "scene " + (index + 1) + " of " + scenes));
    head.append(el("span", "duration", seconds === null || seconds === undefined
      ? "audio: length unknown" : "≈ " + clock(seconds)));
    head.hidden = scenes === 1 && seconds !== null;
    const body = el("div", "scene-body");
    const see = part("sees");
    const hear = part("hears");
    const parts = isObject(value) ? value : {};
    section(see, problems, path + ".character", character, parts.character);
    section(see, problems, path + ".background", background, parts.background);
    section(hear, problems, path + ".voice", voice, parts.voice);
    body.append(see, hear);
    node.append(head, body);
    attach(node, claim(problems, path, false));
    return node;
  }

  // ---- one card per row ----

  function cardTotal(row) {
    const known = (row.seconds || []).filter(function (s) { return s !== null; });
    const total = known.reduce(function (a, b) { return a + b; }, 0);
    if (!row.seconds || !row.seconds.length) return "";
    const unknown = row.seconds.length - known.length;
    if (!known.length) return "audio, length unknown";
    return "≈ " + clock(total) + (unknown ? " + audio" : "");
  }

  function rowTitle(row) {
    return isObject(row.payload) && typeof row.payload.title === "string" ? row.payload.title : "";
  }

  function rowKey(row) {
    if (row.key) return row.key;
    return isObject(row.payload) && typeof row.payload.callback_id === "string" ? row.payload.callback_id : "";
  }

  function header(row) {
    const head = el("div", "card-head");
    head.append(el("h2", "", "Row " + row.row));
    const title = rowTitle(row);
    if (title) head.append(el("span", "name", title));
    const key = rowKey(row);
    if (key) head.append(el("span", "key", key));
    head.append(el("span", "spacer"));
    if (row.engine) head.append(el("span", "engine", "engine " + row.engine));
    head.append(el("span", "duration", cardTotal(row)));
    head.append(el("span", "badge " + cssName(row.status), row.status));
    return head;
  }

  function raw(row) {
    const box = el("details", "raw");
    box.append(el("summary", "", "request body (JSON)"));
    box.addEventListener("toggle", function () {
      if (box.open && box.childNodes.length === 1) {
        box.append(el("pre", "", JSON.stringify(row.payload, null, 2)));
      }
    });
    return box;
  }

  function card(row) {
    const node = el("article", "card status-" + cssName(row.status));
    node.dataset.row = row.row;
    node.append(header(row));
    const general = el("div");
    node.append(general);
    if (row.video_id) node.append(el("div", "key", "video_id " + row.video_id + (row.submitted_at ? " · " + row.submitted_at : "")));
    if (row.error) node.append(el("p", "note " + cssName(row.status), row.error));
    for (const warning of row.warnings || []) {
      node.append(el("p", "note", "warning: " + warning.message + (warning.path ? " · " + warning.path : "")));
    }
    const problems = (row.problems || []).map(function (p) { return Object.assign({}, p); });
    const scenes = sceneList(row);
    scenes.forEach(function (value, index) {
      node.append(scene(scenes.length, index, value, (row.seconds || [])[index], problems));
    });
    attach(general, problems.filter(function (p) { return !p.shown; }));
    if (row.payload !== undefined && row.payload !== null) node.append(raw(row));
    return node;
  }

  // A V2 body's scenes, or the V2-shaped view of a v3 body that the page builder added.
  function sceneList(row) {
    if (Array.isArray(row.scenes)) return row.scenes;
    return isObject(row.payload) && Array.isArray(row.payload.video_inputs) ? row.payload.video_inputs : [];
  }

  // ---- filters, and cards made only as they scroll into view ----

  function haystack(index) {
    if (haystacks[index] === undefined) {
      const row = rows[index];
      const parts = [rowTitle(row), rowKey(row), row.video_id || "", row.error || "", "row " + row.row];
      const scenes = sceneList(row);
      for (const each of scenes) {
        if (!isObject(each)) continue;
        for (const setting of [each.character, each.voice]) {
          if (!isObject(setting)) continue;
          for (const key of ["input_text", "voice_id", "avatar_id", "talking_photo_id", "audio_url"]) {
            if (typeof setting[key] === "string") parts.push(setting[key]);
          }
        }
      }
      for (const problem of row.problems || []) parts.push(problem.message, problem.column || "");
      haystacks[index] = parts.join("\n").toLowerCase();
    }
    return haystacks[index];
  }

  function matches(index) {
    const row = rows[index];
    if (state.invalidOnly && row.status !== "invalid") return false;
    if (state.status && row.status !== state.status) return false;
    return !state.query || haystack(index).includes(state.query);
  }

  function renderMore() {
    const cards = document.getElementById("cards");
    const end = Math.min(state.next + BATCH, state.list.length);
    const batch = document.createDocumentFragment();
    for (let at = state.next; at < end; at++) batch.append(card(rows[state.list[at]]));
    cards.append(batch);
    state.next = end;
    if (timing.firstCard === null && end > 0) timing.firstCard = performance.now();
  }

  function fillScreen() {
    const more = document.getElementById("more");
    if (state.next < state.list.length && more.getBoundingClientRect().top < window.innerHeight + AHEAD_PX) {
      renderMore();
      requestAnimationFrame(fillScreen);
    }
  }

  function apply() {
    const started = performance.now();
    state.list = [];
    for (let index = 0; index < rows.length; index++) if (matches(index)) state.list.push(index);
    state.next = 0;
    document.getElementById("cards").replaceChildren();
    renderMore();
    document.getElementById("empty").hidden = state.list.length > 0;
    document.getElementById("shown").textContent = "showing " + number(state.list.length) + " of " +
      plural(rows.length, "row");
    document.body.dataset.matching = String(state.list.length);
    timing.lastFilterMs = performance.now() - started;
    requestAnimationFrame(fillScreen);
  }

  function statusOptions() {
    const select = document.getElementById("status");
    const counts = {};
    for (const row of rows) counts[row.status] = (counts[row.status] || 0) + 1;
    select.append(new Option("every status (" + number(rows.length) + ")", ""));
    for (const status of Object.keys(counts).sort()) {
      select.append(new Option("only " + status + " (" + number(counts[status]) + ")", status));
    }
  }

  function listen() {
    const search = document.getElementById("search");
    let pending = null;
    search.addEventListener("input", function () {
      clearTimeout(pending);
      pending = setTimeout(function () {
        state.query = search.value.trim().toLowerCase();
        apply();
      }, rows.length > 2000 ? 150 : 60);
    });
    document.getElementById("status").addEventListener("change", function (event) {
      state.status = event.target.value;
      apply();
    });
    document.getElementById("invalid-only").addEventListener("change", function (event) {
      state.invalidOnly = event.target.checked;
      apply();
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "/" && document.activeElement !== search) {
        event.preventDefault();
        search.focus();
      }
    });
    new IntersectionObserver(function (entries) {
      if (entries.some(function (entry) { return entry.isIntersecting; })) fillScreen();
    }, { rootMargin: AHEAD_PX + "px" }).observe(document.getElementById("more"));
  }

  showSummary();
  statusOptions();
  listen();
  apply();
  document.body.dataset.ready = "true";
})();
