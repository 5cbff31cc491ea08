// The report's behaviour: filters over each row's data attributes, and question details
// inserted from the JSON blob when first opened. The blob's HTML was escaped in Python;
// nothing here builds markup from text.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var rows = Array.prototype.slice.call(document.querySelectorAll("details.q"));
  var selects = Array.prototype.slice.call(document.querySelectorAll("select.verdict-filter"));
  var search = document.getElementById("search");
  var disagree = document.getElementById("disagree");
  var shown = document.getElementById("shown");
  var haystacks = [];  // lower-cased text per question, built on the first search

  function fill(row) {
    if (row.dataset.filled) return;
    row.querySelector(".q-body").innerHTML = data.bodies[Number(row.dataset.i)];
    row.dataset.filled = "1";
  }

  // "toggle" does not bubble; one capturing listener serves every row.
  document.addEventListener("toggle", function (event) {
    var row = event.target;
    if (row.classList && row.classList.contains("q") && row.open) fill(row);
  }, true);

  var entities = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": "\"", "&#x27;": "'" };
  function plainText(fragment) {
    return fragment.replace(/<[^>]*>/g, " ").replace(/&(amp|lt|gt|quot|#x27);/g, function (e) {
      return entities[e];
    });
  }

  function haystack(i) {
    if (haystacks[i] === undefined) {
      haystacks[i] = (rows[i].querySelector("summary").textContent + " " +
                      plainText(data.bodies[Number(rows[i].dataset.i)])).toLowerCase();
    }
    return haystacks[i];
  }

  function state() {
    var wanted = selects.map(function (s) { return s.value; });
    return { wanted: wanted, text: search.value.trim().toLowerCase(), disagree: disagree.checked };
  }

  function matches(i, row, s) {
    var v = row.dataset.v;
    for (var m = 0; m < s.wanted.length; m++) {
      if (s.wanted[m] === "right" && v.charAt(m) !== "R") return false;
      if (s.wanted[m] === "wrong" && v.charAt(m) !== "W") return false;
    }
    if (s.disagree && !(v.indexOf("R") >= 0 && v.indexOf("W") >= 0)) return false;
    return !s.text || haystack(i).indexOf(s.text) >= 0;
  }

  function apply() {
    var s = state(), count = 0;
    rows.forEach(function (row, i) {
      var ok = matches(i, row, s);
      row.hidden = !ok;
      if (ok) count++;
    });
    shown.textContent = count + " of " + rows.length + " shown";
    document.body.dataset.filtered = "1";
  }

  // The filters live in the address's #fragment too (e.g. #rsd=wrong&target=right), so a
  // filtered view can be linked to and reloads as it was.
  function toHash() {
    var params = new URLSearchParams();
    selects.forEach(function (s) { if (s.value !== "any") params.set(s.name, s.value); });
    if (disagree.checked) params.set("disagree", "1");
    if (search.value.trim()) params.set("text", search.value.trim());
    var hash = params.toString();
    try {
      history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
    } catch (e) {
      // some browsers refuse replaceState on file: pages; the filter still applies
    }
  }

  function fromHash() {
    var params = new URLSearchParams(location.hash.slice(1));
    selects.forEach(function (s) {
      var value = params.get(s.name);
      s.value = value === "right" || value === "wrong" ? value : "any";
    });
    disagree.checked = params.get("disagree") === "1";
    search.value = params.get("text") || "";
    apply();
  }

  function changed() { apply(); toHash(); }
  selects.forEach(function (s) { s.addEventListener("change", changed); });
  disagree.addEventListener("change", changed);
  search.addEventListener("input", changed);
  document.getElementById("filters").addEventListener("submit", function (e) { e.preventDefault(); });
  document.getElementById("reset").addEventListener("click", function () {
    selects.forEach(function (s) { s.value = "any"; });
    disagree.checked = false;
    search.value = "";
    changed();
  });
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
