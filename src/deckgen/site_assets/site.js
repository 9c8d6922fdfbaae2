// deckgen's site: search (MiniSearch over assets/search-index.js), study mode, the
// permanent card addresses of q/, and keyboard access to boxes that scroll. Bank text reaches the page only as textContent.
(function () {
  "use strict";

  function tokenize(text) {
    // Latin words as words; each Chinese character on its own, so that a search finds it anywhere.
    var tokens = [];
    var parts = text.toLowerCase().split(/[^\p{L}\p{N}]+/u);
    for (var i = 0; i < parts.length; i++) {
      var word = "";
      for (var c of parts[i]) {
        if (/\p{Script=Han}/u.test(c)) {
          if (word) { tokens.push(word); word = ""; }
          tokens.push(c);
        } else {
          word += c;
        }
      }
      if (word) tokens.push(word);
    }
    return tokens;
  }

  function setUpSearch() {
    var box = document.getElementById("q");
    var list = document.getElementById("results");
    if (!box || !list || !window.MiniSearch || !window.DECKGEN_SEARCH) return;
    var search = new window.MiniSearch({
      fields: ["question", "answer", "extra"],
      storeFields: ["page", "topic", "question"],
      tokenize: tokenize,
      searchOptions: { prefix: true, combineWith: "AND", boost: { question: 2 } },
    });
    search.addAll(window.DECKGEN_SEARCH.documents);
    function show(query) {
      list.textContent = "";
      if (!query.trim()) return;
      search.search(query).slice(0, 50).forEach(function (hit) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = hit.page + "#" + encodeURIComponent(hit.id);
        link.textContent = hit.question;
        var topic = document.createElement("div");
        topic.className = "topic";
        topic.textContent = hit.topic + " · " + hit.id;
        item.appendChild(link);
        item.appendChild(topic);
        list.appendChild(item);
      });
    }
    box.addEventListener("input", function () { show(box.value); });
    var asked = new URLSearchParams(window.location.search).get("q");
    if (asked) { box.value = asked; show(asked); }
  }

  function setUpStudy() {
    var toggle = document.getElementById("study");
    var cards = Array.prototype.slice.call(document.querySelectorAll(".card"));
    if (!toggle || !cards.length) return;
    var current = 0;
    function focus(index) {
      cards[current].classList.remove("current");
      current = Math.max(0, Math.min(cards.length - 1, index));
      cards[current].classList.add("current");
      cards[current].focus();
    }
    function setStudy(on) {
      document.body.classList.toggle("study", on);
      toggle.checked = on;
      cards.forEach(function (card) { card.classList.remove("revealed"); });
      if (on) focus(0);
    }
    toggle.addEventListener("change", function () { setStudy(toggle.checked); });
    cards.forEach(function (card, index) {
      card.querySelector(".reveal").addEventListener("click", function () { card.classList.add("revealed"); focus(index); });
    });
    document.addEventListener("keydown", function (event) {
      if (!document.body.classList.contains("study") || event.target.tagName === "INPUT") return;
      if (event.key === " ") { event.preventDefault(); cards[current].classList.add("revealed"); }
      else if (event.key === "ArrowDown" || event.key === "ArrowRight") { event.preventDefault(); focus(current + 1); }
      else if (event.key === "ArrowUp" || event.key === "ArrowLeft") { event.preventDefault(); focus(current - 1); }
    });
    if (new URLSearchParams(window.location.search).get("study") === "1") setStudy(true);
  }

  function followPermalink() {
    var where = document.getElementById("where");
    if (!where || !window.DECKGEN_PAGES) return;
    var id = decodeURIComponent(window.location.hash.slice(1));
    var page = Object.prototype.hasOwnProperty.call(window.DECKGEN_PAGES, id) ? window.DECKGEN_PAGES[id] : null;
    if (typeof page === "string") {
      window.location.replace("../" + page);
    } else if (page) {
      where.textContent = window.DECKGEN_RETIRED + " (" + id + "): " + page.retired;
    } else {
      where.textContent = id ? "?" + " " + id : "";
    }
  }

  function markScrollBoxes() {
    // A formula, table or code block wider than the screen scrolls in its own box: such a box
    // takes the keyboard's focus, so that it scrolls by keyboard too; one that fits does not.
    var boxes = document.querySelectorAll('.card pre, .card table, .card math[display="block"]');
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].scrollWidth > boxes[i].clientWidth) boxes[i].setAttribute("tabindex", "0");
      else boxes[i].removeAttribute("tabindex");
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpSearch(); setUpStudy(); followPermalink(); markScrollBoxes();
    window.addEventListener("resize", markScrollBoxes);
  });
})();
