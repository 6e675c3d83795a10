// Live updates for the dashboard: one Server-Sent Events connection per page.
// Deployment events refresh the parts of the page that show them (htmx listens for
// "hearth:deploy"), finished deployments raise a toast, and the Live page lists everything.
(function () {
  "use strict";
  if (!document.body.dataset.live) return;

  var TERMINAL = {
    DeploymentSucceeded: ["ok", "succeeded"],
    DeploymentFailed: ["bad", "failed"],
    RollbackCompleted: ["warn", "was rolled back"],
    RollbackFailed: ["bad", "could not be rolled back"],
    DeploymentCancelled: ["warn", "was cancelled"],
  };

  function toast(event) {
    var kind = TERMINAL[event.type];
    var box = document.getElementById("toasts");
    if (!kind || !box) return;
    var link = document.createElement("a");
    link.className = "toast " + kind[0];
    link.href = "/deployments/" + encodeURIComponent(event.data.deployment_id);
    link.textContent = "Deployment to " + event.data.target + " " + kind[1];
    box.appendChild(link);
    setTimeout(function () { link.remove(); }, 8000);
  }

  function tail(event) {
    var body = document.getElementById("tail");
    if (!body) return;
    var row = document.createElement("tr");
    [event.seq, event.occurred_at.slice(11, 19), event.type, event.key, event.actor].forEach(
      function (value) {
        var cell = document.createElement("td");
        cell.textContent = String(value);
        row.appendChild(cell);
      }
    );
    body.insertBefore(row, body.firstChild);
    while (body.children.length > 200) body.removeChild(body.lastChild);
  }

  // The Live page may ask for log lines too (its tail names its feed); others need none.
  var tailBody = document.getElementById("tail");
  var source = new EventSource((tailBody && tailBody.dataset.feed) || "/api/v1/events/stream");
  source.onmessage = function (message) {
    var event = JSON.parse(message.data);
    tail(event);
    if (event.data && event.data.deployment_id !== undefined || event.type.indexOf("Target") === 0) {
      document.body.dispatchEvent(new CustomEvent("hearth:deploy", { detail: event }));
    }
    toast(event);
  };
  // The feed names each event by its type, and EventSource hands named events only to
  // listeners of that name: listen to every type of the catalogue (the page lists them).
  (document.body.dataset.types || "").split(" ").forEach(function (type) {
    if (type) source.addEventListener(type, source.onmessage);
  });
})();
