// The organizer console's little script: live SMS estimates while typing, and live progress.
// Every number comes from the server; this file only asks and shows.
"use strict";

(function () {
  var main = document.getElementById("main");
  var csrf = main ? main.getAttribute("data-csrf") : "";

  function estimate(area) {
    var locale = area.getAttribute("data-estimate");
    var line = document.getElementById("estimate_" + locale);
    var box = document.getElementById("renderings_" + locale);
    var sent = area.value;
    fetch("/console/estimate", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ locale: locale, text: sent })
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (!data || area.value !== sent) { return; }
      line.textContent = data.summary;
      line.setAttribute("data-segments", data.segments === undefined ? "" : String(data.segments));
      line.setAttribute("data-encoding", data.encoding || "");
      line.classList.toggle("error", Boolean(data.too_long));
      box.textContent = "";
      (data.renderings || []).forEach(function (item) {
        var label = document.createElement("p");
        label.className = "rendering-label";
        label.textContent = item.label;
        var text = document.createElement("pre");
        text.className = "arrival";
        text.setAttribute("data-channel", item.channel);
        text.textContent = item.text;
        box.appendChild(label);
        box.appendChild(text);
      });
    }).catch(function () { /* the next keystroke asks again */ });
  }

  Array.prototype.forEach.call(document.querySelectorAll("textarea[data-estimate]"), function (area) {
    var timer = null;
    area.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { estimate(area); }, 250);
    });
    if (area.value) { estimate(area); }
  });

  var progress = document.querySelector("[data-progress]");
  if (!progress) { return; }
  var bar = document.getElementById("bar");
  var percent = document.getElementById("percent");
  var counts = document.getElementById("counts");
  var report = document.getElementById("report");
  var columns = ["sent", "delivered", "failed", "unknown", "opted_out"];

  function cell(tag, text, scope) {
    var element = document.createElement(tag);
    element.textContent = text;
    if (scope) { element.setAttribute("scope", scope); }
    return element;
  }

  function table(data) {
    var grid = document.createElement("table");
    var head = document.createElement("tr");
    head.appendChild(cell("th", progress.getAttribute("data-col-channel"), "col"));
    columns.forEach(function (name) {
      head.appendChild(cell("th", progress.getAttribute("data-col-" + name.replace("_", "-")), "col"));
    });
    var thead = document.createElement("thead");
    thead.appendChild(head);
    grid.appendChild(thead);
    var body = document.createElement("tbody");
    Object.keys(data.channels).forEach(function (channel) {
      var row = document.createElement("tr");
      row.setAttribute("data-channel", channel);
      row.appendChild(cell("th", channel, "row"));
      columns.forEach(function (name) {
        var td = cell("td", String(data.channels[channel][name]));
        td.setAttribute("data-count", name);
        td.className = "num";
        row.appendChild(td);
      });
      body.appendChild(row);
    });
    grid.appendChild(body);
    counts.textContent = "";
    counts.appendChild(grid);
  }

  function poll() {
    fetch(progress.getAttribute("data-progress"), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { setTimeout(poll, 2000); return; }
        bar.value = data.percent;
        bar.textContent = data.percent + "%";
        percent.textContent = data.percent + "%";
        table(data);
        report.textContent = data.report_text;
        if (data.finished) {
          progress.setAttribute("data-finished", "true");
          var stop = document.getElementById("stop");
          if (stop) { stop.hidden = true; }
        } else {
          setTimeout(poll, 1000);
        }
      }).catch(function () { setTimeout(poll, 2000); });
  }
  poll();
}());
