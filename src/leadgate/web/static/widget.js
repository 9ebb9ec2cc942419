/*!
 * leadgate chat widget (chat/v1). Plain JavaScript (ES2019), no framework, no build step, no network
 * access other than the leadgate server it talks to.
 *
 * Embed with one tag:
 *   <script src="https://leadgate.example.com/widget.js"
 *           data-leadgate-url="https://leadgate.example.com" defer></script>
 *
 * Optional attributes on the tag: data-leadgate-title (panel heading), data-leadgate-launcher (launcher
 * text), data-leadgate-color (accent colour, any CSS colour). Any element of the host page with the
 * attribute data-leadgate-open opens the chat when clicked; window.LeadgateWidget.open() / .close() too.
 *
 * Security: every text from the server or the visitor is written with textContent, never parsed as markup.
 */
(() => {
  "use strict";

  const script =
    document.currentScript || document.querySelector("script[data-leadgate-url], script[src*='widget.js']");
  if (!script || window.LeadgateWidget) return;

  // ----- configuration ------------------------------------------------------------------------------
  const baseUrl = new URL(script.getAttribute("data-leadgate-url") || ".", script.src || location.href);
  const apiBase = baseUrl.href.replace(/\/?$/, "/");
  const apiUrl = (path) => new URL(String(path).replace(/^\/+/, ""), apiBase).href;
  const title = script.getAttribute("data-leadgate-title") || "Chat with us";
  const launcherText = script.getAttribute("data-leadgate-launcher") || "Chat with us";
  const accent = script.getAttribute("data-leadgate-color") || "";
  const visitorTz = (() => {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    } catch (_) {
      return "UTC";
    }
  })();
  const reducedMotion = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : null;
  const MAX_SEND_ATTEMPTS = 5;

  // ----- storage (conversation id + token survive a reload) -----------------------------------------
  const storageKey = "leadgate:" + apiBase;
  const store = {
    get(name) {
      try {
        return JSON.parse(window.localStorage.getItem(storageKey + ":" + name));
      } catch (_) {
        return null;
      }
    },
    set(name, value) {
      try {
        window.localStorage.setItem(storageKey + ":" + name, JSON.stringify(value));
      } catch (_) {
        /* storage disabled: the conversation lasts as long as the page */
      }
    },
    remove(name) {
      try {
        window.localStorage.removeItem(storageKey + ":" + name);
      } catch (_) {
        /* ignore */
      }
    },
  };

  const uuid = () => {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    const b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  let visitorId = store.get("visitor");
  if (typeof visitorId !== "string") {
    visitorId = uuid();
    store.set("visitor", visitorId);
  }

  // ----- DOM helpers: text only, never HTML ---------------------------------------------------------
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  };
  const icon = (d) => {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.append(path);
    return svg;
  };

  const CSS = `
:host { all: initial; }
*, *::before, *::after { box-sizing: border-box; }
.root {
  --lg-accent: #4338ca; --lg-accent-text: #fff; --lg-bg: #fff; --lg-fg: #1f2937; --lg-muted: #6b7280;
  --lg-bubble: #f3f4f6; --lg-border: #e5e7eb; --lg-focus: #f59e0b;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: var(--lg-fg);
}
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
button { font: inherit; cursor: pointer; }
:focus-visible { outline: 3px solid var(--lg-focus); outline-offset: 2px; }
[hidden] { display: none !important; }
.launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; display: inline-flex;
  align-items: center; gap: 8px; min-height: 48px; padding: 0 18px; border: 0; border-radius: 24px;
  background: var(--lg-accent); color: var(--lg-accent-text); font-weight: 600;
  box-shadow: 0 6px 20px rgba(0,0,0,.25); }
.launcher svg, .close svg { width: 22px; height: 22px; fill: currentColor; }
.panel { position: fixed; right: 20px; bottom: 84px; z-index: 2147483001; display: flex;
  flex-direction: column; width: 380px; height: min(620px, calc(100vh - 104px)); background: var(--lg-bg);
  border: 1px solid var(--lg-border); border-radius: 14px; box-shadow: 0 12px 40px rgba(0,0,0,.25);
  overflow: hidden; animation: lg-in .18s ease-out; }
@keyframes lg-in { from { opacity: 0; transform: translateY(12px); } to { opacity: 1; transform: none; } }
.head { display: flex; align-items: center; justify-content: space-between; gap: 8px; padding: 12px 12px 12px 16px;
  background: var(--lg-accent); color: var(--lg-accent-text); }
.head h2 { margin: 0; font-size: 16px; font-weight: 600; }
.close { display: inline-flex; align-items: center; justify-content: center; width: 40px; height: 40px;
  border: 0; border-radius: 8px; background: transparent; color: inherit; }
.close:hover { background: rgba(255,255,255,.15); }
.log { flex: 1 1 auto; overflow-y: auto; padding: 16px; display: flex; flex-direction: column; gap: 10px;
  overscroll-behavior: contain; }
.msg { max-width: 85%; padding: 9px 12px; border-radius: 12px; background: var(--lg-bubble);
  align-self: flex-start; overflow-wrap: anywhere; }
.msg .text { margin: 0; white-space: pre-wrap; }
.msg.visitor { align-self: flex-end; background: var(--lg-accent); color: var(--lg-accent-text); }
.msg.staff { border-left: 4px solid var(--lg-accent); }
.msg .who { display: block; font-size: 12px; font-weight: 600; color: var(--lg-muted); margin-bottom: 2px; }
.msg.pending { opacity: .75; }
.msg.failed { outline: 2px solid #b91c1c; }
.msg .note { display: block; margin-top: 4px; font-size: 12px; }
.msg.visitor .note { color: var(--lg-accent-text); }
.cites { margin: 6px 0 0; padding: 6px 0 0; list-style: none; border-top: 1px solid var(--lg-border);
  font-size: 12px; color: var(--lg-muted); }
.cites li + li { margin-top: 2px; }
.ics { display: inline-block; margin-top: 8px; color: var(--lg-accent); font-weight: 600; }
.retry { margin-left: 6px; padding: 2px 8px; border: 1px solid currentColor; border-radius: 6px;
  background: transparent; color: inherit; font-size: 12px; }
.options { display: flex; flex-wrap: wrap; gap: 8px; align-self: stretch; }
.options button { min-height: 40px; padding: 6px 12px; border: 1px solid var(--lg-accent); border-radius: 18px;
  background: var(--lg-bg); color: var(--lg-accent); text-align: left; }
.options button:hover { background: var(--lg-bubble); }
.notice { align-self: center; font-size: 13px; color: var(--lg-muted); text-align: center; }
.notice button { margin-top: 6px; padding: 6px 12px; border: 1px solid var(--lg-accent); border-radius: 8px;
  background: var(--lg-bg); color: var(--lg-accent); }
.typing { padding: 0 16px 6px; font-size: 13px; color: var(--lg-muted); display: flex; align-items: center; gap: 6px; }
.dots { display: inline-flex; gap: 3px; }
.dots span { width: 6px; height: 6px; border-radius: 50%; background: var(--lg-muted); animation: lg-blink 1.2s infinite; }
.dots span:nth-child(2) { animation-delay: .2s; }
.dots span:nth-child(3) { animation-delay: .4s; }
@keyframes lg-blink { 0%, 80%, 100% { opacity: .25; } 40% { opacity: 1; } }
.status { margin: 0; padding: 0 16px; font-size: 13px; color: #b91c1c; }
.status:empty { display: none; }
.composer { display: flex; gap: 8px; padding: 10px 12px 12px; border-top: 1px solid var(--lg-border); }
.composer input { flex: 1 1 auto; min-width: 0; min-height: 44px; padding: 8px 12px; font: inherit; font-size: 16px;
  color: var(--lg-fg); background: var(--lg-bg); border: 1px solid #9ca3af; border-radius: 10px; }
.composer input:disabled { background: var(--lg-bubble); }
.composer button { min-height: 44px; padding: 0 16px; border: 0; border-radius: 10px; background: var(--lg-accent);
  color: var(--lg-accent-text); font-weight: 600; }
.composer button:disabled { opacity: .5; cursor: default; }
@media (max-width: 480px) {
  .panel { top: 0; right: 0; bottom: 0; left: 0; width: 100%; height: 100%; max-height: none;
    border: 0; border-radius: 0; }
  .msg { max-width: 92%; }
}
@media (prefers-reduced-motion: reduce) {
  *, *::before, *::after { animation: none !important; transition: none !important; scroll-behavior: auto !important; }
  .dots span { opacity: .6; }
}
`;

  // ----- build the widget inside a Shadow DOM (host CSS cannot reach it) ----------------------------
  const host = document.createElement("div");
  host.id = "leadgate-widget";
  const shadow = host.attachShadow({ mode: "open" });
  if ("adoptedStyleSheets" in shadow && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    shadow.append(el("style", { text: CSS }));
  }

  const launcher = el(
    "button",
    {
      type: "button",
      class: "launcher",
      "aria-haspopup": "dialog",
      "aria-expanded": "false",
      "aria-controls": "lg-panel",
    },
    icon("M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"),
    el("span", { text: launcherText }),
  );
  const closeBtn = el(
    "button",
    { type: "button", class: "close", "aria-label": "Close chat" },
    icon("M18.3 5.7 12 12l6.3 6.3-1.4 1.4L10.6 13.4 4.3 19.7 2.9 18.3 9.2 12 2.9 5.7 4.3 4.3l6.3 6.3 6.3-6.3z"),
  );
  const log = el("div", {
    class: "log",
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions",
    "aria-label": "Conversation",
    tabindex: "0",
  });
  const typing = el(
    "div",
    { class: "typing", hidden: true },
    el("span", { class: "dots", "aria-hidden": "true" }, el("span"), el("span"), el("span")),
    el("span", { text: "Assistant is typing…" }),
  );
  const statusLine = el("p", { class: "status", role: "status" });
  const input = el("input", {
    id: "lg-input",
    type: "text",
    autocomplete: "off",
    maxlength: "2000",
    placeholder: "Type your message…",
  });
  const sendBtn = el("button", { type: "submit" }, "Send");
  const form = el(
    "form",
    { class: "composer" },
    el("label", { for: "lg-input", class: "sr-only", text: "Your message" }),
    input,
    sendBtn,
  );
  const panel = el(
    "div",
    { class: "panel", id: "lg-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "lg-title", hidden: true },
    el("div", { class: "head" }, el("h2", { id: "lg-title", text: title }), closeBtn),
    log,
    typing,
    statusLine,
    form,
  );
  const root = el("div", { class: "root" }, panel, launcher);
  if (accent) root.style.setProperty("--lg-accent", accent);
  shadow.append(root);

  // ----- state --------------------------------------------------------------------------------------
  let conv = store.get("conversation"); // {id, token} or null
  if (!conv || typeof conv.id !== "string" || typeof conv.token !== "string") conv = null;
  let status = "active";
  let lastSeq = 0;
  const seen = new Set(); // seqs already rendered
  let starting = null; // promise of the conversation being created or loaded
  let eventsAbort = null; // AbortController of the staff-reply stream
  let draft = null; // bubble of a reply being streamed (delta events)
  let optionsEl = null;
  const outbox = []; // visitor messages not yet confirmed by the server
  let pumping = false;

  const scrollDown = () => {
    const behavior = reducedMotion && !reducedMotion.matches ? "smooth" : "auto";
    if (typeof log.scrollTo === "function") log.scrollTo({ top: log.scrollHeight, behavior });
    else log.scrollTop = log.scrollHeight;
  };
  const setStatusText = (text) => {
    statusLine.textContent = text || "";
  };
  const showTyping = (on) => {
    typing.hidden = !on;
    if (on) scrollDown();
  };
  const authHeaders = () => ({ "X-Conversation-Token": conv ? conv.token : "" });
  const safeHref = (path) => {
    try {
      const url = new URL(apiUrl(path));
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (_) {
      return null;
    }
  };

  // ----- rendering ----------------------------------------------------------------------------------
  const clearOptions = () => {
    if (!optionsEl) return;
    const hadFocus = shadow.activeElement && optionsEl.contains(shadow.activeElement);
    optionsEl.remove();
    optionsEl = null;
    if (hadFocus) input.focus();
  };

  const renderOptions = (options) => {
    clearOptions();
    const valid = (options || []).filter((o) => o && typeof o.label === "string");
    if (!valid.length || status === "closed") return;
    optionsEl = el("div", { class: "options", role: "group", "aria-label": "Suggested replies" });
    for (const option of valid) {
      optionsEl.append(
        el("button", {
          type: "button",
          text: option.label,
          onclick: () => {
            clearOptions();
            input.focus();
            send(option.label, option.id);
          },
        }),
      );
    }
    log.append(optionsEl);
  };

  const bubble = (role, text) => {
    const who = role === "visitor" ? "You" : role === "staff" ? "Sales team" : "Assistant";
    const node = el(
      "div",
      { class: `msg ${role}` },
      role === "staff" ? el("span", { class: "who", text: who }) : el("span", { class: "sr-only", text: who + ": " }),
      el("p", { class: "text", text: text }),
    );
    return node;
  };

  const renderMessage = (m) => {
    if (!m || typeof m !== "object") return;
    if (typeof m.seq === "number") {
      if (seen.has(m.seq)) return; // already shown (a resent message, a reconnect)
      seen.add(m.seq);
      lastSeq = Math.max(lastSeq, m.seq);
    }
    const role = m.role === "visitor" || m.role === "staff" ? m.role : "assistant";
    if (role === "visitor" && m.client_message_id) {
      // our own message, seen on the events stream before its POST returned: no second bubble
      const pending = outbox.find((item) => item.cmid === m.client_message_id);
      if (pending) {
        confirm(pending, m);
        return;
      }
    }
    clearOptions();
    if (draft) {
      draft.remove();
      draft = null;
    }
    const node = bubble(role, typeof m.text === "string" ? m.text : "");
    node.dataset.kind = m.kind || "text";
    if (typeof m.seq === "number") node.dataset.seq = String(m.seq);
    const citations = Array.isArray(m.citations) ? m.citations : [];
    if (citations.length) {
      const list = el("ul", { class: "cites", "aria-label": "Sources" });
      for (const c of citations) {
        if (!c || typeof c.source !== "string") continue;
        const item = el("li", { text: `Source: ${c.source}` });
        if (typeof c.title === "string" && c.title) item.append(` (${c.title})`);
        if (typeof c.quote === "string" && c.quote) item.title = c.quote;
        list.append(item);
      }
      node.append(list);
    }
    const data = m.data && typeof m.data === "object" ? m.data : {};
    if (typeof data.ics_path === "string") {
      const href = safeHref(data.ics_path);
      const found = /\/v1\/bookings\/([0-9a-fA-F-]{36})\.ics$/.exec(data.ics_path);
      const bookingId = typeof data.booking_id === "string" ? data.booking_id : found && found[1];
      if (href && bookingId) {
        // the invite URL needs a short-lived ticket (no token in a URL): asked for on each click
        const onclick = (event) => {
          event.preventDefault();
          downloadInvite(bookingId);
        };
        node.append(el("a", { class: "ics", href, onclick, text: "Add to your calendar (.ics)" }));
      }
    }
    log.append(node);
    if (Array.isArray(m.options) && m.options.length) renderOptions(m.options);
    scrollDown();
  };

  const renderDelta = (text) => {
    if (typeof text !== "string") return;
    if (!draft) {
      draft = bubble("assistant", "");
      draft.classList.add("draft");
      log.append(draft);
    }
    draft.querySelector(".text").textContent += text;
    scrollDown();
  };

  let noticeEl = null;
  const renderStatus = (next) => {
    if (typeof next !== "string") return;
    status = next;
    if (noticeEl) {
      noticeEl.remove();
      noticeEl = null;
    }
    if (status === "closed") {
      clearOptions();
      input.disabled = true;
      sendBtn.disabled = true;
      noticeEl = el(
        "div",
        { class: "notice" },
        el("span", { text: "This conversation has ended." }),
        el("br"),
        el("button", { type: "button", text: "Start a new conversation", onclick: () => restart() }),
      );
      log.append(noticeEl);
      scrollDown();
      stopEvents();
    } else {
      input.disabled = false;
      sendBtn.disabled = false;
      if (status === "handoff") listenForEvents();
    }
  };

  /** Ask for an ICS ticket of a booking (with the conversation token), then download the invite with it. */
  const downloadInvite = async (bookingId) => {
    if (!conv) return;
    try {
      const res = await fetch(apiUrl(`v1/conversations/${encodeURIComponent(conv.id)}/tickets`), {
        method: "POST",
        headers: { ...authHeaders(), "Content-Type": "application/json" },
        body: JSON.stringify({ purpose: "ics", booking_id: bookingId }),
        cache: "no-store",
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = await res.json();
      const href = typeof body.url === "string" ? safeHref(body.url) : null;
      if (!href) throw new Error("no ticket URL");
      const link = el("a", { href, download: `demo-${bookingId}.ics`, hidden: true });
      root.append(link);
      link.click();
      link.remove();
    } catch (_) {
      log.append(el("div", { class: "notice", text: "The calendar invite could not be downloaded. Please try again." }));
      scrollDown();
    }
  };

  // ----- server-sent events over fetch (EventSource cannot POST or send headers) ---------------------
  /**
   * Read an SSE response body; call onEvent({event, data}) for each event (data parsed as JSON when it is).
   * Resolves when the stream ends.
   */
  const readSse = async (response, onEvent) => {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let event = "";
    let data = [];
    const dispatch = () => {
      if (data.length) {
        const raw = data.join("\n");
        let parsed = raw;
        try {
          parsed = JSON.parse(raw);
        } catch (_) {
          /* plain text data */
        }
        onEvent({ event: event || "message", data: parsed });
      }
      event = "";
      data = [];
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      for (;;) {
        const match = /\r\n|\r|\n/.exec(buffer);
        if (!match) break;
        if (match[0] === "\r" && match.index === buffer.length - 1) break; // maybe half of \r\n
        const line = buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
        if (line === "") {
          dispatch();
          continue;
        }
        if (line.startsWith(":")) continue; // comment (keep-alive ping)
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? "" : line.slice(colon + 1);
        if (val.startsWith(" ")) val = val.slice(1);
        if (field === "event") event = val;
        else if (field === "data") data.push(val);
      }
    }
  };

  const stopEvents = () => {
    if (eventsAbort) eventsAbort.abort();
    eventsAbort = null;
  };

  /** After a handoff, staff replies arrive on GET /v1/conversations/{id}/events (reconnects with after_seq). */
  const listenForEvents = () => {
    if (eventsAbort || !conv) return;
    const controller = new AbortController();
    eventsAbort = controller;
    const id = conv.id;
    (async () => {
      let delay = 1000;
      while (!controller.signal.aborted && conv && conv.id === id && status === "handoff") {
        let pause = 250; // the server ends each stream after its timeout: reconnect at once
        try {
          const res = await fetch(apiUrl(`v1/conversations/${encodeURIComponent(id)}/events?after_seq=${lastSeq}`), {
            headers: { ...authHeaders(), Accept: "text/event-stream" },
            signal: controller.signal,
            cache: "no-store",
          });
          if (res.status === 401 || res.status === 403 || res.status === 404) break;
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          delay = 1000;
          await readSse(res, ({ event, data }) => {
            if (event === "message") renderMessage(data);
            else if (event === "status") renderStatus(data && data.status);
          });
        } catch (err) {
          if (controller.signal.aborted) break;
          pause = delay;
          delay = Math.min(delay * 2, 15000);
        }
        if (controller.signal.aborted) break;
        await sleep(pause);
      }
      if (eventsAbort === controller) eventsAbort = null;
    })();
  };

  // ----- conversation lifecycle ---------------------------------------------------------------------
  const startNew = async () => {
    showTyping(true);
    try {
      const res = await fetch(apiUrl("v1/conversations"), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ timezone: visitorTz, visitor_id: visitorId }),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = await res.json();
      conv = { id: body.conversation_id, token: body.token };
      store.set("conversation", conv);
      setStatusText("");
      for (const m of body.messages || []) renderMessage(m);
      renderStatus(body.status || "active");
    } finally {
      showTyping(false);
    }
  };

  /** Load the stored conversation's transcript; false when the server no longer knows it. */
  const resume = async () => {
    const res = await fetch(apiUrl(`v1/conversations/${encodeURIComponent(conv.id)}`), {
      headers: { ...authHeaders(), Accept: "application/json" },
      cache: "no-store",
    });
    if (res.status === 401 || res.status === 403 || res.status === 404 || res.status === 410) return false;
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = await res.json();
    for (const m of body.messages || []) renderMessage(m);
    if (typeof body.last_seq === "number") lastSeq = Math.max(lastSeq, body.last_seq);
    renderStatus(body.status || "active");
    return true;
  };

  /** Make sure there is a conversation (resumed or new); shared by every caller until it settles. */
  const ensureConversation = () => {
    if (!starting) {
      starting = (async () => {
        if (conv) {
          if (await resume()) return;
          conv = null;
          store.remove("conversation");
        }
        await startNew();
      })().catch((err) => {
        starting = null;
        setStatusText("Sorry, the chat could not connect. Check your connection and try again.");
        throw err;
      });
    }
    return starting;
  };

  const restart = () => {
    stopEvents();
    conv = null;
    store.remove("conversation");
    starting = null;
    seen.clear();
    lastSeq = 0;
    outbox.length = 0;
    draft = null;
    optionsEl = null;
    noticeEl = null;
    log.replaceChildren();
    status = "active";
    input.disabled = false;
    sendBtn.disabled = false;
    ensureConversation().then(() => input.focus(), () => {});
  };

  // ----- sending: one message at a time, resent with the same client_message_id on failure -----------
  const markPending = (item, note) => {
    item.node.classList.add("pending");
    item.note.textContent = note;
  };

  const deliver = async (item) => {
    for (let attempt = 1; ; attempt++) {
      let retryAfter = 0;
      try {
        await ensureConversation();
        const res = await fetch(apiUrl(`v1/conversations/${encodeURIComponent(conv.id)}/messages`), {
          method: "POST",
          headers: { ...authHeaders(), "Content-Type": "application/json", Accept: "text/event-stream" },
          body: JSON.stringify(
            item.optionId
              ? { client_message_id: item.cmid, text: item.text, option_id: item.optionId }
              : { client_message_id: item.cmid, text: item.text },
          ),
        });
        if (res.status === 429 || res.status >= 500) {
          retryAfter = Number(res.headers.get("Retry-After")) * 1000 || 0;
          throw new Error(`HTTP ${res.status}`);
        }
        if (res.status === 404) {
          // the server no longer knows this conversation (or its token): start a new one and resend
          conv = null;
          starting = null;
          store.remove("conversation");
          throw new Error("conversation not found");
        }
        if (res.status === 409) {
          item.node.remove();
          renderStatus("closed");
          return true;
        }
        if (!res.ok) {
          let detail = "";
          try {
            const body = await res.json();
            detail = typeof body.detail === "string" ? body.detail : "";
          } catch (_) {
            /* no JSON body */
          }
          item.node.classList.remove("pending");
          item.node.classList.add("failed");
          item.note.textContent = res.status === 413 ? "Not sent: the message is too long." : `Not sent. ${detail}`.trim();
          return true; // not retryable: drop it from the queue
        }
        const type = res.headers.get("Content-Type") || "";
        if (type.includes("text/event-stream")) {
          let finished = false;
          await readSse(res, ({ event, data }) => {
            if (event === "typing") showTyping(Boolean(data && data.typing));
            else if (event === "delta") renderDelta(data && data.text);
            else if (event === "message") renderMessage(data);
            else if (event === "done") {
              finished = true;
              showTyping(false);
              confirm(item, data && data.message);
              renderStatus(data && data.status);
            } else if (event === "error") throw new Error((data && data.detail) || "server error");
          });
          if (!finished) throw new Error("the reply stream ended early");
        } else {
          const body = await res.json();
          confirm(item, body.message);
          for (const m of body.replies || []) renderMessage(m);
          renderStatus(body.status);
        }
        confirm(item, null);
        setStatusText("");
        return true;
      } catch (err) {
        showTyping(false);
        if (draft) {
          draft.remove();
          draft = null;
        }
        if (attempt >= MAX_SEND_ATTEMPTS) {
          markPending(item, "Not sent.");
          item.node.classList.add("failed");
          item.note.append(
            el("button", {
              type: "button",
              class: "retry",
              text: "Retry",
              onclick: (ev) => {
                ev.currentTarget.remove();
                item.node.classList.remove("failed");
                markPending(item, "Sending…");
                pump();
              },
            }),
          );
          setStatusText("Your message could not be sent. Check your connection, then press Retry.");
          return false;
        }
        markPending(item, "Sending again…");
        setStatusText("Connection problem: trying again…");
        await sleep(Math.max(retryAfter, 500 * 2 ** (attempt - 1)));
      }
    }
  };

  const confirm = (item, message) => {
    if (message && typeof message.seq === "number") {
      seen.add(message.seq);
      lastSeq = Math.max(lastSeq, message.seq);
      item.node.dataset.seq = String(message.seq);
    }
    item.node.classList.remove("pending", "failed");
    item.note.textContent = "";
  };

  const pump = async () => {
    if (pumping) return;
    pumping = true;
    try {
      while (outbox.length) {
        const item = outbox[0];
        if (!(await deliver(item))) break; // gave up for now: the Retry button calls pump() again
        outbox.shift();
      }
    } finally {
      pumping = false;
    }
  };

  const send = (text, optionId) => {
    const clean = String(text).trim();
    if (!clean || status === "closed") return;
    clearOptions();
    const item = { cmid: uuid(), text: clean, optionId: optionId || null };
    item.node = bubble("visitor", clean);
    item.note = el("span", { class: "note" });
    item.node.append(item.note);
    markPending(item, "Sending…");
    log.append(item.node);
    scrollDown();
    outbox.push(item);
    pump();
  };

  // ----- open / close, keyboard ---------------------------------------------------------------------
  const isOpen = () => !panel.hidden;
  const open = (focus = true) => {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    try {
      window.sessionStorage.setItem(storageKey + ":open", "1");
    } catch (_) {
      /* ignore */
    }
    if (focus) input.focus();
    scrollDown();
    ensureConversation().catch(() => {});
  };
  const close = () => {
    if (!isOpen()) return;
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    try {
      window.sessionStorage.removeItem(storageKey + ":open");
    } catch (_) {
      /* ignore */
    }
    launcher.focus();
  };

  launcher.addEventListener("click", () => (isOpen() ? close() : open()));
  closeBtn.addEventListener("click", close);
  root.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && isOpen()) {
      ev.preventDefault();
      ev.stopPropagation();
      close();
    }
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    send(text);
  });
  window.addEventListener("online", () => {
    if (outbox.length) pump();
  });
  document.addEventListener("click", (ev) => {
    const target = ev.target instanceof Element ? ev.target.closest("[data-leadgate-open]") : null;
    if (target) {
      ev.preventDefault();
      open();
    }
  });

  const mount = () => {
    document.body.append(host);
    // a conversation in progress (stored id and token): load its transcript now, reopen if it was open
    if (conv) ensureConversation().catch(() => {});
    let wasOpen = false;
    try {
      wasOpen = window.sessionStorage.getItem(storageKey + ":open") === "1";
    } catch (_) {
      /* ignore */
    }
    if (wasOpen && conv) open(false);
  };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  window.LeadgateWidget = Object.freeze({ open: () => open(), close, restart });
})();
