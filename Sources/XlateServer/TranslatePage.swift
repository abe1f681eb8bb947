/// `GET /`: a translate page that works offline (no external scripts, styles or fonts). It reads `/languages`,
/// translates through `/v1/translate` and draws the cross-attention map (`AlignmentRenderer.htmlTable`); hovering a
/// target word (a row) highlights the source words (columns) it attended to. Stable element ids for tests:
/// `#source`, `#target`, `#source-lang`, `#target-lang`, `#translate`, `#alignment`, `#api-key`, `#error`.
enum TranslatePage {
    static let html = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title>xlate</title>
        <style>
        body { font-family: system-ui, "DejaVu Sans", sans-serif; margin: 24px; color: #222; max-width: 1100px; }
        h1 { font-size: 20px; }
        .panes { display: flex; gap: 16px; }
        .pane { flex: 1; display: flex; flex-direction: column; gap: 6px; }
        textarea { width: 100%; min-height: 140px; font-size: 15px; box-sizing: border-box; padding: 6px; }
        .bar { margin: 10px 0; display: flex; gap: 10px; align-items: center; }
        button { font-size: 15px; padding: 4px 16px; }
        #error { color: #b00020; min-height: 1.2em; }
        #alignment { margin-top: 16px; overflow-x: auto; }
        table.map { border-collapse: collapse; margin-top: 6px; }
        table.map td { width: 22px; height: 22px; min-width: 22px; padding: 0; border: 1px solid #fff; text-align: center; }
        table.map td.hard::after { content: ""; display: inline-block; width: 7px; height: 7px; border-radius: 50%; background: #fff; }
        table.map td.hard.light::after { background: #000; }
        table.map th { font-weight: normal; font-size: 13px; white-space: nowrap; }
        table.map tbody th { text-align: right; padding: 0 8px 0 0; cursor: default; }
        table.map thead th { writing-mode: vertical-rl; transform: rotate(180deg); text-align: left; padding: 6px 0 0; }
        table.map th.on { background: #ffe08a; }
        /* No bold: a wider header would shift the rows under the pointer. */
        table.map th.linked { background: #ffb347; box-shadow: inset 0 -3px 0 #c05600; }
        </style>
        </head>
        <body>
        <h1>xlate</h1>
        <div class="panes">
          <div class="pane">
            <select id="source-lang" aria-label="Source language"></select>
            <textarea id="source" aria-label="Text to translate" placeholder="Text to translate">The cat sat on the mat.</textarea>
          </div>
          <div class="pane">
            <select id="target-lang" aria-label="Target language"></select>
            <textarea id="target" aria-label="Translation" readonly="readonly"></textarea>
          </div>
        </div>
        <div class="bar">
          <button id="translate" type="button">Translate</button>
          <input id="api-key" type="text" placeholder="API key" hidden="hidden"/>
          <span id="error" role="alert"></span>
        </div>
        <p>Hover a target word (a row) to see the source words it attended to. Colour: cross-attention weight.</p>
        <div id="alignment"></div>
        <script>
        //<![CDATA[
        "use strict";
        const $ = (id) => document.getElementById(id);
        let pairs = [];
        function fill(select, codes, names) {
          const previous = select.value;
          select.textContent = "";
          for (const code of codes) {
            const option = document.createElement("option");
            option.value = code;
            option.textContent = names[code] + " (" + code + ")";
            select.appendChild(option);
          }
          if (codes.includes(previous)) select.value = previous;
        }
        async function loadLanguages() {
          const languages = await (await fetch("languages")).json();
          const names = {};
          for (const language of languages) names[language.code] = language.name;
          pairs = languages.filter((l) => l.targets.length > 0);
          fill($("source-lang"), pairs.map((l) => l.code), names);
          const update = () => {
            const source = pairs.find((l) => l.code === $("source-lang").value);
            fill($("target-lang"), source ? source.targets : [], names);
          };
          $("source-lang").addEventListener("change", update);
          update();
          const settings = await (await fetch("frontend/settings")).json();
          $("api-key").hidden = !settings.keyRequired;
        }
        async function translate() {
          $("error").textContent = "";
          const body = { q: $("source").value, source: $("source-lang").value, target: $("target-lang").value,
                         alignment: "hard", alignment_html: true };
          if (!$("api-key").hidden) body.api_key = $("api-key").value;
          $("translate").disabled = true;
          try {
            const response = await fetch("v1/translate", { method: "POST", headers: { "Content-Type": "application/json" },
                                                           body: JSON.stringify(body) });
            const result = await response.json();
            if (!response.ok) throw new Error(result.error || response.statusText);
            const translation = result.translations[0];
            $("target").value = translation.translation;
            $("alignment").innerHTML = translation.alignment_html || "";
          } catch (error) {
            $("error").textContent = String(error.message || error);
          } finally {
            $("translate").disabled = false;
          }
        }
        // Hover a target word: highlight it and the source words it attended to (its hard link, and any column
        // with weight >= 0.2).
        $("alignment").addEventListener("mouseover", (event) => {
          const table = event.target.closest("table.map");
          for (const header of $("alignment").querySelectorAll("th.on, th.linked")) header.classList.remove("on", "linked");
          const row = event.target.closest("tbody tr");
          if (!table || !row) return;
          row.cells[0].classList.add("on");
          const columns = table.tHead.rows[0].cells;
          for (const cell of Array.from(row.cells).slice(1)) {
            if (cell.classList.contains("hard") || parseFloat(cell.title) >= 0.2) columns[cell.cellIndex].classList.add("linked");
          }
        });
        $("translate").addEventListener("click", translate);
        loadLanguages().catch((error) => { $("error").textContent = "cannot load languages: " + error; });
        //]]>
        </script>
        </body>
        </html>

        """
}
