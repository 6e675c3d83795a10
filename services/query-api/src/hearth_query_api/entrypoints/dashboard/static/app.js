// The dashboard's small script. Pages work without it; with it:
// - times read "3 min ago" in the reader's words and zone, and stay current;
// - one Server-Sent Events connection per page refreshes the parts that show deployments
//   (htmx listens for "hearth:deploy"), raises a toast when one ends, and fills the Live page;
// - the deploy form asks the right question for a dry run;
// - a refused form (a 4xx or 5xx answer to htmx) says why in a toast.
(function () {
  "use strict";

  // -- times -------------------------------------------------------------------------
  var absolute = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });
  var relative = typeof Intl.RelativeTimeFormat === "function"
    ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" }) : null;
  var UNITS = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];

  function ago(date) {
    var seconds = Math.round((Date.now() - date.getTime()) / 1000);
    if (Math.abs(seconds) < 45 || !relative) return Math.abs(seconds) < 45 ? "just now" : null;
    for (var i = 0; i < UNITS.length; i++) {
      if (Math.abs(seconds) >= UNITS[i][1] || UNITS[i][0] === "minute") {
        return relative.format(-Math.round(seconds / UNITS[i][1]), UNITS[i][0]);
      }
    }
    return null;
  }

  function localise(root) {
    var times = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var el = times[i];
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date.getTime())) continue;
      el.title = absolute.format(date);
      if (el.dataset.clock) { // log lines keep a clock time, the reader's
        el.textContent = date.toLocaleTimeString([], { hour12: false });
        continue;
      }
      var text = ago(date);
      if (text) el.textContent = text;
    }
  }
  localise(document);
  setInterval(function () { localise(document); }, 30000);
  document.addEventListener("htmx:afterSwap", function (e) { localise(e.target); });

  // -- the deploy form: a dry run is a different question -------------------------------
  function askRightly(box) {
    if (!box || box.id !== "dry-run" || !box.form) return;
    var form = box.form, button = form.querySelector("#deploy-now");
    form.setAttribute("hx-confirm", box.checked ? form.dataset.confirmDryRun : form.dataset.confirmDeploy);
    if (button) button.textContent = box.checked ? button.dataset.dryRun : button.dataset.deploy;
  }
  document.addEventListener("change", function (e) { askRightly(e.target); });
  askRightly(document.getElementById("dry-run")); // a browser may restore a ticked box

  // -- a refused form says why -----------------------------------------------------------
  // htmx swaps nothing in for a 4xx/5xx answer, so a refused Deploy or Cancel looked like a
  // button that did nothing. The answer is a problem page: its title and its one line become
  // a toast that stays until it is clicked away.
  function refusal(text) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var note = document.createElement("p");
    note.className = "toast bad refusal";
    note.setAttribute("role", "alert");
    note.title = "Click to close";
    note.textContent = text;
    note.addEventListener("click", function () { note.remove(); });
    box.appendChild(note);
  }
  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail.xhr;
    var page = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    var title = page.querySelector("main h1"), line = page.querySelector("main .error");
    refusal(title && line
      ? title.textContent.trim() + ": " + line.textContent.trim()
      : "Refused (" + xhr.status + "). Reload the page and try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    refusal("Hearth did not answer. Check that it is running, then try again.");
  });

  if (!document.body.dataset.live) return;

  // -- toasts ----------------------------------------------------------------------------
  var TERMINAL = {
    DeploymentSucceeded: ["ok", "succeeded"],
    DeploymentFailed: ["bad", "failed"],
    RollbackCompleted: ["warn", "was rolled back"],
    RollbackFailed: ["bad", "could not be rolled back"],
    DeploymentCancelled: ["warn", "was cancelled"],
  };

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function show(kind, href, text) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var link = document.createElement("a");
    link.className = "toast " + kind;
    link.href = href;
    link.textContent = text;
    box.appendChild(link);
    setTimeout(function () { link.remove(); }, 8000);
  }

  function toast(event) {
    var kind = TERMINAL[event.type];
    if (!kind) return;
    var data = event.data, id = data.deployment_id;
    var href = "/deployments/" + encodeURIComponent(id);
    var text = "Deployment to " + data.target + " " + kind[1];
    if (event.type === "DeploymentFailed" && data.rolled_back) text += " — host restored";
    if (event.type !== "DeploymentSucceeded") return show(kind[0], href, text);
    // Only the read model knows whether this was a dry run and what it would change.
    fetch("/api/v1/deployments/" + encodeURIComponent(id), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) {
        if (d && d.dry_run) {
          var plan = d.plan || {};
          var n = ["added", "changed", "removed"].reduce(function (sum, key) {
            return sum + (plan[key] || []).length;
          }, 0);
          text = "Dry run on " + data.target + " finished: " + plural(n, "file") + " would change";
          return show("busy", href, text);
        }
        show(kind[0], href, text);
      })
      .catch(function () { show(kind[0], href, text); });
  }

  // -- the Live page -----------------------------------------------------------------------
  function tail(event) {
    var body = document.getElementById("tail");
    if (!body) return;
    var placeholder = body.querySelector(".placeholder");
    if (placeholder) placeholder.remove();
    var row = document.createElement("tr");
    var when = document.createElement("time");
    when.setAttribute("datetime", event.occurred_at);
    when.textContent = event.occurred_at.slice(11, 19);
    var type = document.createElement("span");
    type.className = "type";
    event.type.split(/(?=[A-Z])/).forEach(function (word, i) { // break between words only
      if (i) type.appendChild(document.createElement("wbr"));
      type.appendChild(document.createTextNode(word));
    });
    [[event.seq, "opt num"], [when, ""], [type, ""], [event.key, ""], [event.actor, ""]].forEach(
      function (cell) {
        var td = document.createElement("td");
        if (cell[1]) td.className = cell[1];
        if (cell[0] instanceof Node) td.appendChild(cell[0]); else td.textContent = String(cell[0]);
        row.appendChild(td);
      }
    );
    localise(row);
    body.insertBefore(row, body.firstChild);
    while (body.children.length > 200) body.removeChild(body.lastChild);
  }

  // -- a device's live panel: the server sends it rendered, each time it changes ---------
  var live = document.getElementById("live");
  if (live && live.dataset.live && typeof EventSource === "function") {
    var status = new EventSource(live.dataset.live);
    status.addEventListener("status", function (message) {
      var body = document.getElementById("live-body"); // the page's refresh may replace it
      if (!body) return;
      body.innerHTML = message.data;
      body.dataset.updated = String(Date.now());
    });
  }

  // The Live page may ask for log lines too (its tail names its feed); others need none.
  var tailBody = document.getElementById("tail");
  var source = new EventSource((tailBody && tailBody.dataset.feed) || "/api/v1/events/stream");
  source.onopen = function () { document.body.dataset.feed = "open"; };
  source.onmessage = function (message) {
    var event = JSON.parse(message.data);
    tail(event);
    if (event.data && event.data.deployment_id !== undefined || event.type.indexOf("Target") === 0) {
      document.body.dispatchEvent(new CustomEvent("hearth:deploy", { detail: event }));
    }
    if (event.data && event.data.device_id !== undefined || event.type.indexOf("FirmwareRollout") === 0) {
      document.body.dispatchEvent(new CustomEvent("hearth:device", { detail: event }));
    }
    toast(event);
  };
  // The feed names each event by its type, and EventSource hands named events only to
  // listeners of that name: listen to every type of the catalogue (the page lists them).
  (document.body.dataset.types || "").split(" ").forEach(function (type) {
    if (type) source.addEventListener(type, source.onmessage);
  });
})();
