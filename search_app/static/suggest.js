// Search-box suggestions: turns the plain search form's input into an ARIA 1.2 combobox
// (list autocomplete). Without JavaScript the form works as is and the results page
// lists suggested queries as links. Loaded as a static file (no inline script).
(function () {
  "use strict";

  var DEBOUNCE_MS = 150;
  var LIMIT = 8;

  function init(input) {
    var form = input.form;
    if (!form || input.getAttribute("role") === "combobox") return;
    var listId = input.id + "-suggestions";
    var list = document.createElement("ul");
    list.id = listId;
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "추천 검색어");
    list.hidden = true;
    var status = document.createElement("div");
    status.className = "sr-only";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    form.classList.add("has-suggestions");
    form.appendChild(list);
    form.appendChild(status);

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);
    input.setAttribute("autocomplete", "off");

    var items = [];
    var active = -1;
    var timer = null;
    var controller = null;
    var typed = input.value;

    function announce(text) {
      status.textContent = text;
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function setActive(index) {
      var options = list.children;
      if (active >= 0 && options[active]) {
        options[active].setAttribute("aria-selected", "false");
        options[active].classList.remove("active");
      }
      active = index;
      if (active < 0) {
        input.removeAttribute("aria-activedescendant");
        input.value = typed;
        return;
      }
      var option = options[active];
      option.setAttribute("aria-selected", "true");
      option.classList.add("active");
      input.setAttribute("aria-activedescendant", option.id);
      input.value = items[active].text;
      option.scrollIntoView({ block: "nearest" });
    }

    function choose(index) {
      input.value = items[index].text;
      close();
      if (typeof form.requestSubmit === "function") form.requestSubmit();
      else form.submit();
    }

    function render(suggestions) {
      items = suggestions;
      list.textContent = "";
      active = -1;
      input.removeAttribute("aria-activedescendant");
      if (!items.length) {
        close();
        announce("");
        return;
      }
      items.forEach(function (s, i) {
        var li = document.createElement("li");
        li.id = listId + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.textContent = s.text;
        li.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep focus in the input
        });
        li.addEventListener("click", function () {
          choose(i);
        });
        list.appendChild(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      announce("추천 검색어 " + items.length + "개. 위아래 화살표로 고르고 Enter로 검색합니다.");
    }

    function fetchSuggestions(q) {
      if (controller) controller.abort(); // a newer keystroke wins
      controller = typeof AbortController === "function" ? new AbortController() : null;
      var url = "/api/suggest?limit=" + LIMIT + "&q=" + encodeURIComponent(q);
      fetch(url, {
        headers: { Accept: "application/json" },
        signal: controller ? controller.signal : undefined,
      })
        .then(function (response) {
          return response.ok ? response.json() : { q: q, suggestions: [] };
        })
        .then(function (body) {
          if (input.value.trim() !== q) return; // stale: the text changed meanwhile
          render(body.suggestions || []);
        })
        .catch(function (error) {
          if (error && error.name === "AbortError") return;
          close();
        });
    }

    input.addEventListener("input", function () {
      typed = input.value;
      clearTimeout(timer);
      var q = input.value.trim();
      if (!q) {
        if (controller) controller.abort();
        render([]);
        return;
      }
      timer = setTimeout(function () {
        fetchSuggestions(q);
      }, DEBOUNCE_MS);
    });

    input.addEventListener("keydown", function (event) {
      if (event.isComposing) return; // the IME is still composing a syllable
      var open = !list.hidden && items.length > 0;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (!open) {
          if (items.length) {
            list.hidden = false;
            input.setAttribute("aria-expanded", "true");
          } else if (input.value.trim()) {
            fetchSuggestions(input.value.trim());
          }
          return;
        }
        setActive(active + 1 < items.length ? active + 1 : -1);
      } else if (event.key === "ArrowUp") {
        if (!open) return;
        event.preventDefault();
        setActive(active > 0 ? active - 1 : active === 0 ? -1 : items.length - 1);
      } else if (event.key === "Enter") {
        if (open && active >= 0) {
          event.preventDefault();
          choose(active);
        } else {
          close();
        }
      } else if (event.key === "Escape") {
        if (open) {
          event.preventDefault();
          if (active >= 0) input.value = typed;
          close();
          announce("추천 검색어를 닫았습니다.");
        }
      }
    });

    input.addEventListener("blur", function () {
      close();
    });
  }

  function start() {
    var inputs = document.querySelectorAll("form.searchbox input[type=search]");
    for (var i = 0; i < inputs.length; i++) init(inputs[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
