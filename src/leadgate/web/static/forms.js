/*
 * leadgate embeddable form: turns any <form data-leadgate-form="FORM_ID"> into a leadgate web form.
 *
 *   <form data-leadgate-form="course-enquiry">
 *     <input name="email" type="email" required> ...
 *     <input name="website" tabindex="-1" autocomplete="off" style="position:absolute;left:-9999px">
 *     <label><input type="checkbox" name="course_updates"> Send me course updates</label>
 *     <button type="submit">Send</button>
 *     <p data-leadgate-status role="status"></p>
 *   </form>
 *   <script src="https://LEADGATE/forms.js" defer></script>
 *
 * When the page shows the form it asks POST /v1/forms/FORM_ID/tickets for a ticket and makes a submission
 * id (crypto.randomUUID); on submit it posts {submission_id, ticket, fields} as JSON to
 * /v1/forms/FORM_ID/submissions. A second click sends the same submission id, so it makes no second lead.
 * Checkboxes are sent as true/false, other fields as text. Events on the form: "leadgate:submitted"
 * (detail: the answer) and "leadgate:error" (detail: {status, detail}). Guide: docs/channels.md.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var defaultBase = script && script.src ? new URL(script.src).origin : "";

  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  function fieldsOf(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.type === "submit" || el.type === "button") return;
      if (el.type === "checkbox") out[el.name] = el.checked;
      else if (el.type === "radio") { if (el.checked) out[el.name] = el.value; }
      else out[el.name] = el.value;
    });
    return out;
  }

  function say(form, text, kind) {
    var status = form.querySelector("[data-leadgate-status]");
    if (status) { status.textContent = text; status.setAttribute("data-kind", kind); }
  }

  function setup(form) {
    var formId = form.getAttribute("data-leadgate-form");
    var base = (form.getAttribute("data-leadgate-url") || defaultBase).replace(/\/$/, "");
    var url = base + "/v1/forms/" + encodeURIComponent(formId);
    var state = { ticket: null, submissionId: newId(), sending: false };

    var ticketReady = fetch(url + "/tickets", { method: "POST", mode: "cors", credentials: "omit" })
      .then(function (r) { if (!r.ok) throw new Error("ticket " + r.status); return r.json(); })
      .then(function (body) { state.ticket = body.ticket; })
      .catch(function () { say(form, "The form cannot be sent right now. Please try again later.", "error"); });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (state.sending) return;
      state.sending = true;
      var buttons = form.querySelectorAll("[type=submit]");
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
      say(form, "Sending…", "pending");
      ticketReady.then(function () {
        return fetch(url + "/submissions", {
          method: "POST",
          mode: "cors",
          credentials: "omit",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ submission_id: state.submissionId, ticket: state.ticket, fields: fieldsOf(form) })
        });
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) { return { status: r.status, body: body }; });
      }).then(function (res) {
        if (res.status === 200 || res.status === 201) {
          say(form, "Thank you! We will be in touch shortly.", "ok");
          form.dispatchEvent(new CustomEvent("leadgate:submitted", { detail: res.body }));
          return;
        }
        var detail = res.body && res.body.detail;
        var text = Array.isArray(detail)
          ? detail.map(function (e) { return (e.path || "").replace(/^body\.fields\./, "") + ": " + e.reason; }).join("; ")
          : (detail || "The form could not be sent (" + res.status + ").");
        say(form, text, "error");
        form.dispatchEvent(new CustomEvent("leadgate:error", { detail: { status: res.status, detail: detail } }));
      }).catch(function () {
        say(form, "The form could not be sent. Please check your connection and try again.", "error");
      }).then(function () {
        state.sending = false;
        Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
      });
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-leadgate-form]"), setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
